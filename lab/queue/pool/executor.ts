/**
 * Runs one job where the task lives (a pool child, or the main thread for the async pool): decode the body,
 * find the task, bind arguments, run it inside its task context, and turn whatever happened into an outcome.
 */
import { performance } from 'node:perf_hooks';
import { allApps, findTask } from '../shared-registry.js';
import type { App } from '../app.js';
import type { Task } from '../task.js';
import { ConfigError } from '../../errors.js';
import { runInTaskContext } from '../context.js';
import { Retry, celeryException, toExceptionInfo } from '../errors.js';
import { encodeJson } from '../json-codec.js';
import { encodeMsgpack } from '../msgpack-codec.js';
import { pyRepr } from '../worker-log.js';
import { ProtocolError, decodeBody, hasEmbed } from '../protocol.js';
import type { Embed } from '../protocol.js';
import type { Job, JobOutcome } from './job.js';

/** Import the modules that define tasks. Errors name the module (a typo in -A must read clearly). */
export async function loadTaskModules(include: readonly string[]): Promise<void> {
  for (const m of include) {
    try {
      await import(m);
    } catch (err) {
      // The error's type too: "SyntaxError: Unexpected identifier" says more than the message alone.
      const reason = err instanceof Error ? `${err.name}: ${err.message.split('\n')[0]}` : String(err);
      // A module that does not load is the user's to fix (a typo in -A, a syntax error): a config error, exit 2.
      throw new ConfigError(`cannot load task module ${m}: ${reason}`);
    }
  }
}

function traceOf(err: unknown): string | null {
  return err instanceof Error && err.stack ? err.stack : null;
}

/** The app that registered a task (its retry defaults apply). */
function appOf(task: Task): App | undefined {
  for (const app of allApps()) if (app.tasks.get(task.name) === task) return app;
  return undefined;
}

/** `abort`: the async pool's revoke --terminate, which can only signal the task (its AbortSignal aborts). */
export async function execute(job: Job, abort?: AbortSignal): Promise<JobOutcome> {
  const t0 = performance.now();
  const elapsed = (): number => performance.now() - t0;
  let embed: Embed | null = null;
  let decoded;
  try {
    decoded = decodeBody(job.body, job.request.id, job.contentType);
  } catch (err) {
    const message = err instanceof ProtocolError ? err.message : String(err);
    return { kind: 'failure', exc: toExceptionInfo(celeryException('DecodeError', message)), traceback: null, runtimeMs: elapsed(), embed: null, malformed: true };
  }
  if (hasEmbed(decoded.embed)) embed = decoded.embed;
  const task = findTask(job.task);
  if (!task) {
    return { kind: 'failure', exc: toExceptionInfo(celeryException('NotRegistered', `'${job.task}'`)), traceback: null, runtimeMs: elapsed(), embed };
  }
  // The task's signal is the pool's own unless a soft time limit must abort it too: an AbortController per task
  // is a measurable share of a busy worker's CPU (issue 13), so none is made that nothing could abort.
  let signal = abort;
  let softTimer: NodeJS.Timeout | undefined;
  if (job.softTimeLimit) {
    const controller = new AbortController();
    abort?.addEventListener('abort', () => controller.abort(abort.reason), { once: true });
    softTimer = setTimeout(() => controller.abort(celeryException('SoftTimeLimitExceeded', `SoftTimeLimitExceeded(${job.softTimeLimit})`)), job.softTimeLimit * 1000);
    signal = controller.signal;
  }
  try {
    const args = task.bindArguments(decoded.args, decoded.kwargs);
    const request = { ...job.request, args: decoded.args, kwargs: decoded.kwargs };
    const config = appOf(task)?.config;
    const defaults = {
      maxRetries: task.options.maxRetries === undefined ? (config?.taskMaxRetries ?? 3) : task.options.maxRetries,
      defaultRetryDelay: task.options.defaultRetryDelay ?? config?.taskDefaultRetryDelay ?? 180,
    };
    const value = await runInTaskContext(request, defaults, signal, () => task.fn(...args));
    let resultJson = '';
    let resultMsgpack: Uint8Array | undefined;
    try {
      if (job.resultSerializer === 'msgpack') resultMsgpack = encodeMsgpack(value);
      else resultJson = encodeJson(value);
    } catch (err) {
      return { kind: 'failure', exc: toExceptionInfo(celeryException('EncodeError', `cannot encode the result of ${job.task} as ${job.resultSerializer ?? 'json'}: ${(err as Error).message}`)), traceback: null, runtimeMs: elapsed(), embed };
    }
    return { kind: 'success', resultJson, resultMsgpack, runtimeMs: elapsed(), embed, repr: pyRepr(value) };
  } catch (err) {
    if (err instanceof Retry) {
      return { kind: 'retry', exc: err.exc, countdown: err.countdownSeconds, eta: err.eta ? err.eta.toISOString() : null, runtimeMs: elapsed() };
    }
    return { kind: 'failure', exc: toExceptionInfo(err), traceback: traceOf(err), runtimeMs: elapsed(), embed };
  } finally {
    if (softTimer) clearTimeout(softTimer);
  }
}
