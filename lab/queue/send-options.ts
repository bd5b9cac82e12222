import type { Signature } from './canvas.js';
import type { SerializerName } from './codec.js';
import type { AsyncResult, GroupResult } from './result.js';

/** applyAsync options, Celery's names in camelCase. Times are in seconds, as in Celery. */
export interface SendOptions {
  taskId?: string;
  countdown?: number;
  eta?: Date;
  /** Seconds from now, or an absolute time. */
  expires?: number | Date;
  queue?: string;
  exchange?: string;
  routingKey?: string;
  priority?: number;
  ignoreResult?: boolean;
  headers?: Record<string, unknown>;
  /** [hard, soft] seconds */
  timeLimit?: number;
  softTimeLimit?: number;
  /** The body's serializer (Celery's apply_async serializer=): default the task's, else task_serializer. */
  serializer?: SerializerName;
  link?: Signature[];
  linkError?: Signature[];
  // Set by the canvas and the worker, rarely by users:
  groupId?: string;
  groupIndex?: number;
  parentId?: string;
  rootId?: string;
  retries?: number;
}

/** What signatures send through (the App). */
export interface Sender {
  sendTask<R>(name: string, args: unknown[], kwargs: Record<string, unknown>, options: SendOptions): Promise<AsyncResult<R>>;
  sendGroup<R>(tasks: Signature<R>[], options: SendOptions): Promise<GroupResult<R>>;
  sendChain<R>(tasks: Signature[], args: unknown[], options: SendOptions): Promise<AsyncResult<R>>;
  sendChord<R>(header: Signature[], body: Signature<R>, options: SendOptions): Promise<AsyncResult<R>>;
}
