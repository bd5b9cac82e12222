/**
 * What the dashboard shows, built from Celery events (lab's and Python workers' alike) plus what remote control and
 * the broker tell: workers (online by heartbeat, pool, concurrency), queues (depth and its change), tasks finished
 * per second and their latency over the last minutes, and the latest failures with tracebacks. Pure: fed events
 * and polls, asked for snapshots; the clock is passed in so tests can drive it.
 */
import type { CeleryEvent, WorkerNode } from '../queue/index.js';

export interface WorkerView {
  hostname: string;
  online: boolean;
  swIdent: string | null;
  pool: string | null;
  concurrency: number | null;
  heartbeats: number;
  /** Seconds since the last event from it. */
  lastSeenS: number | null;
  processed: number | null;
  active: number;
  loadavg: number[] | null;
}

export interface QueueView {
  name: string;
  messages: number;
  consumers: number | null;
  /** Change of depth per second since the previous poll (+ filling, − draining). */
  deltaPerS: number | null;
}

export interface SecondView {
  /** Epoch seconds (whole). */
  t: number;
  succeeded: number;
  failed: number;
  /** Latency received→done of the tasks that finished in that second, ms. */
  p50Ms: number | null;
  maxMs: number | null;
}

export interface FailureView {
  uuid: string;
  name: string | null;
  hostname: string;
  exception: string;
  traceback: string;
  at: number;
}

/** A fault of the lab's (lab fault, lab run --faults) as the dashboard saw it: from when it appeared to when it went. */
export interface FaultView {
  id: string;
  kind: string;
  text: string;
  /** Epoch seconds: when it was applied (its record's startedAt). */
  from: number;
  /** Epoch seconds: when it was no longer recorded (healed), or null while it holds. */
  to: number | null;
}

/** What the dashboard is told of the faults recorded now (the lab's ledger). */
export interface RecordedFault {
  id: string;
  kind: string;
  text: string;
  startedAt: string;
}

const MAX_FAULTS = 50;

export interface Snapshot {
  at: number;
  workers: WorkerView[];
  queues: QueueView[];
  seconds: SecondView[];
  totals: { received: number; succeeded: number; failed: number; events: number };
  failures: FailureView[];
  faults: FaultView[];
}

interface WorkerRec {
  hostname: string;
  swIdent: string | null;
  offline: boolean;
  lastSeen: number;
  freq: number;
  heartbeats: number;
  processed: number | null;
  active: number;
  loadavg: number[] | null;
  pool: string | null;
  concurrency: number | null;
}

interface TaskRec {
  name: string | null;
  since: number;
}

interface Bucket {
  succeeded: number;
  failed: number;
  latencies: number[];
}

/** Minutes of per-second history kept. */
const HISTORY_S = 300;
const MAX_TASKS = 20_000;
const MAX_FAILURES = 20;

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

export class DashboardState {
  private readonly workers = new Map<string, WorkerRec>();
  private readonly tasks = new Map<string, TaskRec>();
  private readonly buckets = new Map<number, Bucket>();
  private readonly failures: FailureView[] = [];
  private readonly faults = new Map<string, FaultView>();
  private queues = new Map<string, QueueView & { at: number }>();
  private readonly totals = { received: 0, succeeded: 0, failed: 0, events: 0 };
  private readonly sentQueues = new Set<string>();

  constructor(private readonly now: () => number = () => Date.now() / 1000) {}

  private worker(hostname: string): WorkerRec {
    let w = this.workers.get(hostname);
    if (!w) {
      w = { hostname, swIdent: null, offline: false, lastSeen: 0, freq: 2, heartbeats: 0, processed: null, active: 0, loadavg: null, pool: null, concurrency: null };
      this.workers.set(hostname, w);
    }
    return w;
  }

  private bucket(t: number): Bucket {
    const k = Math.floor(t);
    let b = this.buckets.get(k);
    if (!b) {
      b = { succeeded: 0, failed: 0, latencies: [] };
      this.buckets.set(k, b);
      for (const old of this.buckets.keys()) if (old < k - HISTORY_S) this.buckets.delete(old);
    }
    return b;
  }

  /** One event as an EventReceiver gives it. */
  event(e: CeleryEvent): void {
    this.totals.events++;
    const at = typeof e.local_received === 'number' ? e.local_received : this.now();
    if (typeof e.hostname === 'string' && !e.hostname.startsWith('gen')) {
      const w = this.worker(e.hostname);
      w.lastSeen = at;
      if (e.type.startsWith('worker-')) {
        w.offline = e.type === 'worker-offline';
        if (typeof e.freq === 'number' && e.freq > 0) w.freq = e.freq;
        if (typeof e.sw_ident === 'string') w.swIdent = e.sw_ident;
        if (typeof e.processed === 'number') w.processed = e.processed;
        if (typeof e.active === 'number') w.active = e.active;
        if (Array.isArray(e.loadavg)) w.loadavg = e.loadavg.filter((x): x is number => typeof x === 'number');
        if (e.type === 'worker-heartbeat') w.heartbeats++;
      } else {
        w.offline = false;
      }
    }
    if (!e.type.startsWith('task-') || typeof e.uuid !== 'string') return;
    const ts = typeof e.timestamp === 'number' ? e.timestamp : at;
    switch (e.type) {
      case 'task-sent':
      case 'task-received': {
        if (e.type === 'task-received') this.totals.received++;
        if (e.type === 'task-sent' && typeof e.queue === 'string' && e.queue) this.sentQueues.add(e.queue);
        const known = this.tasks.get(e.uuid);
        // Latency counts from the first sight of the task: sent if a client said so, else received.
        if (!known) this.tasks.set(e.uuid, { name: typeof e.name === 'string' ? e.name : null, since: ts });
        else if (!known.name && typeof e.name === 'string') known.name = e.name;
        if (this.tasks.size > MAX_TASKS) this.tasks.delete(this.tasks.keys().next().value as string);
        break;
      }
      case 'task-succeeded':
      case 'task-failed': {
        const rec = this.tasks.get(e.uuid);
        this.tasks.delete(e.uuid);
        const b = this.bucket(ts);
        if (rec) b.latencies.push(Math.max(0, (ts - rec.since) * 1000));
        if (e.type === 'task-succeeded') {
          b.succeeded++;
          this.totals.succeeded++;
        } else {
          b.failed++;
          this.totals.failed++;
          this.failures.unshift({ uuid: e.uuid, name: rec?.name ?? null, hostname: e.hostname, exception: String(e.exception ?? ''), traceback: String(e.traceback ?? ''), at: ts });
          this.failures.length = Math.min(this.failures.length, MAX_FAILURES);
        }
        break;
      }
      case 'task-revoked':
      case 'task-rejected':
        this.tasks.delete(e.uuid);
        break;
    }
  }

  /** What remote control said of the workers (pool and concurrency; events do not carry them). */
  survey(nodes: WorkerNode[]): void {
    for (const n of nodes) {
      const w = this.worker(n.hostname);
      // A busy worker may miss one survey's stats: keep what an earlier one said.
      if (n.pool !== null) w.pool = n.pool;
      if (n.concurrency !== null) w.concurrency = n.concurrency;
      if (w.processed === null) w.processed = n.processed;
      if (w.lastSeen === 0) w.lastSeen = this.now();
    }
  }

  /** A poll of the broker's queues. */
  queueStats(stats: { name: string; messages: number; consumers: number | null }[]): void {
    const at = this.now();
    const next = new Map<string, QueueView & { at: number }>();
    for (const s of stats) {
      const prev = this.queues.get(s.name);
      const dt = prev ? at - prev.at : 0;
      next.set(s.name, { ...s, deltaPerS: prev && dt > 0 ? (s.messages - prev.messages) / dt : null, at });
    }
    this.queues = next;
  }

  snapshot(): Snapshot {
    const now = this.now();
    const workers = [...this.workers.values()]
      .sort((a, b) => a.hostname.localeCompare(b.hostname))
      .map((w): WorkerView => ({
        hostname: w.hostname,
        // Celery's State: a worker is alive while its last heartbeat is younger than twice its frequency.
        online: !w.offline && now - w.lastSeen <= w.freq * 2 + 1,
        swIdent: w.swIdent,
        pool: w.pool,
        concurrency: w.concurrency,
        heartbeats: w.heartbeats,
        lastSeenS: w.lastSeen ? Math.max(0, now - w.lastSeen) : null,
        processed: w.processed,
        active: w.active,
        loadavg: w.loadavg,
      }));
    const seconds: SecondView[] = [];
    const end = Math.floor(now);
    for (let t = end - 120; t <= end; t++) {
      const b = this.buckets.get(t);
      const sorted = b ? [...b.latencies].sort((x, y) => x - y) : [];
      seconds.push({ t, succeeded: b?.succeeded ?? 0, failed: b?.failed ?? 0, p50Ms: sorted.length ? quantile(sorted, 0.5) : null, maxMs: sorted.length ? sorted[sorted.length - 1] : null });
    }
    return {
      at: now,
      workers,
      queues: [...this.queues.values()].map(({ at: _at, ...q }) => q),
      seconds,
      totals: { ...this.totals },
      failures: [...this.failures],
      faults: [...this.faults.values()].map((f) => ({ ...f })).reverse(),
    };
  }

  /** The faults recorded now: new ones start a band, ones no longer recorded end theirs (healed) at this poll. */
  faultsRecorded(recorded: readonly RecordedFault[]): void {
    const now = this.now();
    const ids = new Set(recorded.map((f) => f.id));
    for (const f of recorded) {
      if (this.faults.has(f.id)) continue;
      const from = Date.parse(f.startedAt) / 1000;
      this.faults.set(f.id, { id: f.id, kind: f.kind, text: f.text, from: Number.isFinite(from) ? from : now, to: null });
    }
    for (const v of this.faults.values()) if (v.to === null && !ids.has(v.id)) v.to = now;
    // Insertion order is the order they appeared: drop the oldest first.
    for (const id of [...this.faults.keys()].slice(0, Math.max(0, this.faults.size - MAX_FAULTS))) this.faults.delete(id);
  }

  /** Queues clients sent to, from their task-sent events — polled beside the configured ones. */
  queuesSeen(): string[] {
    return [...this.sentQueues];
  }
}
