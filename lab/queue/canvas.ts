/**
 * Signatures and the canvas primitives (group, chain, chord), serialized exactly as Celery does so a Python
 * worker can continue a chain a lab client started and the other way round.
 */
import { isSerializerName } from './codec.js';
import { isoWithOffset, newTaskId, parseIsoTime } from './protocol.js';
import type { SignatureDict } from './protocol.js';
import type { AsyncResult, GroupResult } from './result.js';
import type { SendOptions, Sender } from './send-options.js';

export class Signature<R = unknown> {
  constructor(
    readonly sender: Sender,
    readonly task: string,
    readonly args: unknown[] = [],
    readonly kwargs: Record<string, unknown> = {},
    readonly options: SendOptions = {},
    readonly immutable = false,
  ) {}

  /** An immutable copy: its args are not prepended with the parent's result in a chain or callback. */
  si(): Signature<R> {
    return new Signature<R>(this.sender, this.task, this.args, this.kwargs, this.options, true);
  }

  set(options: SendOptions): Signature<R> {
    return new Signature<R>(this.sender, this.task, this.args, this.kwargs, { ...this.options, ...options }, this.immutable);
  }

  /** Fix the task id now (Celery's freeze), so the result can be known before sending. */
  freeze(): Signature<R> {
    return this.options.taskId ? this : this.set({ taskId: newTaskId() });
  }

  applyAsync(args: unknown[] = [], kwargs: Record<string, unknown> = {}, options: SendOptions = {}): Promise<AsyncResult<R>> {
    const finalArgs = this.immutable ? this.args : [...args, ...this.args];
    return this.sender.sendTask<R>(this.task, finalArgs, { ...this.kwargs, ...kwargs }, { ...this.options, ...options });
  }

  delay(...args: unknown[]): Promise<AsyncResult<R>> {
    return this.applyAsync(args);
  }

  toDict(): SignatureDict {
    return {
      task: this.task,
      args: this.args,
      kwargs: this.kwargs,
      options: optionsToDict(this.options),
      subtask_type: null,
      immutable: this.immutable,
    };
  }
}

/** Celery's option names for what a worker needs when it sends a signature on. */
function optionsToDict(o: SendOptions): Record<string, unknown> {
  const d: Record<string, unknown> = {};
  if (o.taskId) d.task_id = o.taskId;
  if (o.queue) d.queue = o.queue;
  if (o.exchange !== undefined) d.exchange = o.exchange;
  if (o.routingKey) d.routing_key = o.routingKey;
  if (o.priority !== undefined) d.priority = o.priority;
  if (o.countdown !== undefined) d.countdown = o.countdown;
  if (o.expires !== undefined) d.expires = o.expires instanceof Date ? isoWithOffset(o.expires) : o.expires;
  if (o.timeLimit !== undefined) d.time_limit = o.timeLimit;
  if (o.softTimeLimit !== undefined) d.soft_time_limit = o.softTimeLimit;
  if (o.ignoreResult !== undefined) d.ignore_result = o.ignoreResult;
  if (o.serializer !== undefined) d.serializer = o.serializer;
  if (o.link?.length) d.link = o.link.map((s) => s.toDict());
  if (o.linkError?.length) d.link_error = o.linkError.map((s) => s.toDict());
  return d;
}

/** Read Celery's options dict back (from a signature that came over the wire). */
function optionsFromDict(sender: Sender, d: Record<string, unknown> | undefined): SendOptions {
  const o: SendOptions = {};
  if (!d) return o;
  if (typeof d.task_id === 'string') o.taskId = d.task_id;
  if (typeof d.queue === 'string') o.queue = d.queue;
  else if (d.queue && typeof d.queue === 'object' && typeof (d.queue as { name?: unknown }).name === 'string') o.queue = (d.queue as { name: string }).name;
  if (typeof d.exchange === 'string') o.exchange = d.exchange;
  if (typeof d.routing_key === 'string') o.routingKey = d.routing_key;
  if (typeof d.priority === 'number') o.priority = d.priority;
  if (typeof d.countdown === 'number') o.countdown = d.countdown;
  // Python writes expires/eta as seconds or as ISO strings (a retried request carries the string).
  if (typeof d.expires === 'number') o.expires = d.expires;
  else if (typeof d.expires === 'string') o.expires = parseIsoTime(d.expires) ?? undefined;
  if (typeof d.eta === 'string') o.eta = parseIsoTime(d.eta) ?? undefined;
  if (typeof d.time_limit === 'number') o.timeLimit = d.time_limit;
  if (typeof d.soft_time_limit === 'number') o.softTimeLimit = d.soft_time_limit;
  if (typeof d.ignore_result === 'boolean') o.ignoreResult = d.ignore_result;
  if (isSerializerName(d.serializer)) o.serializer = d.serializer;
  if (Array.isArray(d.link)) o.link = d.link.map((s) => signatureFromDict(sender, s as SignatureDict));
  if (Array.isArray(d.link_error)) o.linkError = d.link_error.map((s) => signatureFromDict(sender, s as SignatureDict));
  return o;
}

export function signatureFromDict(sender: Sender, d: SignatureDict): Signature {
  return new Signature(sender, d.task, Array.isArray(d.args) ? d.args : [], d.kwargs && typeof d.kwargs === 'object' ? d.kwargs : {}, optionsFromDict(sender, d.options), d.immutable === true);
}

export class Group<R = unknown> {
  constructor(readonly tasks: Signature<R>[]) {}

  applyAsync(options: SendOptions = {}): Promise<GroupResult<R>> {
    if (this.tasks.length === 0) throw new TypeError('group() needs at least one signature');
    return this.tasks[0].sender.sendGroup<R>(this.tasks, options);
  }

  delay(): Promise<GroupResult<R>> {
    return this.applyAsync();
  }
}

export class Chain<R = unknown> {
  constructor(readonly tasks: Signature[]) {}

  applyAsync(args: unknown[] = [], options: SendOptions = {}): Promise<AsyncResult<R>> {
    if (this.tasks.length === 0) throw new TypeError('chain() needs at least one signature');
    return this.tasks[0].sender.sendChain<R>(this.tasks, args, options);
  }

  delay(...args: unknown[]): Promise<AsyncResult<R>> {
    return this.applyAsync(args);
  }
}

export class Chord<R = unknown> {
  constructor(
    readonly header: Signature[],
    readonly body: Signature<R>,
  ) {}

  applyAsync(options: SendOptions = {}): Promise<AsyncResult<R>> {
    return this.body.sender.sendChord<R>(this.header, this.body, options);
  }

  delay(): Promise<AsyncResult<R>> {
    return this.applyAsync();
  }
}

export function group<R>(tasks: Iterable<Signature<R>>): Group<R> {
  return new Group<R>([...tasks]);
}

export function chain<R = unknown>(...tasks: Signature[]): Chain<R> {
  return new Chain<R>(tasks);
}

export function chord<R>(header: Iterable<Signature>, body: Signature<R>): Chord<R> {
  return new Chord<R>([...header], body);
}
