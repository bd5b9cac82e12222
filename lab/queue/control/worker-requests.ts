/**
 * What a worker holds, as Celery's worker_state keeps it for `inspect active / reserved / scheduled / query_task`
 * and `stats`: requests received (reserved), held for their ETA (scheduled), running (active), and the count of
 * tasks processed per name. Arguments are decoded only when someone asks (a mergesort body is megabytes).
 */
import { decodeBody } from '../protocol.js';
import type { ReceivedHeaders } from '../protocol.js';
import type { Delivery } from '../broker.js';

export interface TrackedRequest {
  readonly h: ReceivedHeaders;
  readonly d: Delivery;
  state: 'reserved' | 'scheduled' | 'active';
  /** Pool job sequence number once the pool has it. */
  seq: number | null;
  /** Epoch seconds the pool started it (Request.time_start). */
  timeStart: number | null;
  workerPid: number | null;
  acknowledged: boolean;
}

/** Request.info(): the dict `inspect active` shows per task. */
export interface RequestInfo {
  id: string;
  name: string;
  args: unknown[];
  kwargs: Record<string, unknown>;
  type: string;
  hostname: string;
  time_start: number | null;
  acknowledged: boolean;
  delivery_info: { exchange: string; routing_key: string; priority: number; redelivered: boolean };
  worker_pid: number | null;
}

export class WorkerRequests {
  readonly #byId = new Map<string, TrackedRequest>();
  /** Tasks processed per task name (Celery's total_count), and all of them. */
  readonly total = new Map<string, number>();
  processed = 0;

  constructor(private readonly hostname: string) {}

  received(h: ReceivedHeaders, d: Delivery, scheduled: boolean): TrackedRequest {
    const r: TrackedRequest = { h, d, state: scheduled ? 'scheduled' : 'reserved', seq: null, timeStart: null, workerPid: null, acknowledged: false };
    this.#byId.set(h.id, r);
    return r;
  }

  get(id: string): TrackedRequest | undefined {
    return this.#byId.get(id);
  }

  started(id: string, seq: number, pid: number | null, acknowledged: boolean): void {
    const r = this.#byId.get(id);
    if (!r) return;
    r.state = 'active';
    r.seq = seq;
    r.timeStart = Date.now() / 1000;
    r.workerPid = pid;
    r.acknowledged = acknowledged;
  }

  /** Left the worker (done, discarded, returned): counted when it ran. */
  done(id: string, ran: boolean): void {
    const r = this.#byId.get(id);
    this.#byId.delete(id);
    if (ran && r) {
      this.total.set(r.h.task, (this.total.get(r.h.task) ?? 0) + 1);
      this.processed++;
    }
  }

  list(state: TrackedRequest['state']): TrackedRequest[] {
    return [...this.#byId.values()].filter((r) => r.state === state);
  }

  get activeCount(): number {
    let n = 0;
    for (const r of this.#byId.values()) if (r.state === 'active') n++;
    return n;
  }

  info(r: TrackedRequest, safe = false): RequestInfo {
    let args: unknown[] = [];
    let kwargs: Record<string, unknown> = {};
    const raw = r.h.raw;
    if (safe) {
      // safe=True: the reprs the client sent (argsrepr/kwargsrepr), as Celery does.
      args = typeof raw.argsrepr === 'string' ? (raw.argsrepr as unknown as unknown[]) : [];
      kwargs = typeof raw.kwargsrepr === 'string' ? (raw.kwargsrepr as unknown as Record<string, unknown>) : {};
    } else {
      try {
        const body = decodeBody(r.d.body, r.h.id, r.d.properties.contentType);
        args = body.args;
        kwargs = body.kwargs;
      } catch {
        // A body that does not decode fails when it runs; here it just shows no arguments.
      }
    }
    return {
      id: r.h.id,
      name: r.h.task,
      args,
      kwargs,
      type: r.h.task,
      hostname: this.hostname,
      time_start: r.timeStart,
      acknowledged: r.acknowledged,
      delivery_info: { exchange: '', routing_key: r.d.queue, priority: r.d.properties.priority ?? 0, redelivered: r.d.redelivered },
      worker_pid: r.workerPid,
    };
  }
}
