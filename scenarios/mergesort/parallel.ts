/**
 * mergesort's parallel mode: the book's comparison with multiprocessing (the same chunks sorted by local workers,
 * no broker) — here a pool of worker threads on the master, each sorting one chunk at a time with the same merge
 * sort. Chunks go over as typed arrays (moved, not copied, on the way back), so what separates this mode from the
 * distributed one is the queue: serialization, broker, result backend.
 */
import { availableParallelism } from 'node:os';
import { Worker as Thread } from 'node:worker_threads';
import type { SortReply, SortRequest } from './sort-thread.js';
import { toNumbers } from './number-array.js';

const THREAD_URL = new URL('./sort-thread.js', import.meta.url);

export interface SortedChunk {
  sorted: number[];
  /** Epoch ms: when a thread started and finished the chunk (its clock), and when the master had it back. */
  started: number;
  finished: number;
  arrived: number;
}

interface Slot {
  thread: Thread;
  busy: ((reply: SortReply) => void) | null;
  fail: ((err: Error) => void) | null;
}

export class SortThreads {
  private readonly waiting: { chunk: readonly number[]; resolve: (r: SortedChunk) => void; reject: (e: Error) => void }[] = [];
  private closed = false;
  private nextId = 1;

  private constructor(private readonly slots: Slot[]) {}

  /** As many threads as chunks, at most one per CPU (multiprocessing.Pool's default size). */
  static size(chunks: number): number {
    return Math.max(1, Math.min(chunks, availableParallelism()));
  }

  static async start(threads: number): Promise<SortThreads> {
    const slots: Slot[] = [];
    try {
      for (let i = 0; i < threads; i++) {
        const thread = new Thread(THREAD_URL);
        slots.push({ thread, busy: null, fail: null });
        await new Promise<void>((resolve, reject) => {
          thread.once('online', resolve);
          thread.once('error', reject);
        });
      }
    } catch (err) {
      await Promise.all(slots.map((s) => s.thread.terminate()));
      throw err;
    }
    const pool = new SortThreads(slots);
    for (const slot of slots) {
      slot.thread.on('message', (reply: SortReply) => {
        const done = slot.busy;
        slot.busy = slot.fail = null;
        done?.(reply);
        pool.pump();
      });
      slot.thread.on('error', (err) => {
        const fail = slot.fail;
        slot.busy = slot.fail = null;
        fail?.(err);
      });
    }
    return pool;
  }

  get threads(): number {
    return this.slots.length;
  }

  sort(chunk: readonly number[]): Promise<SortedChunk> {
    if (this.closed) return Promise.reject(new Error('the sort threads are closed'));
    return new Promise((resolve, reject) => {
      this.waiting.push({ chunk, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    for (const slot of this.slots) {
      if (slot.busy || this.waiting.length === 0) continue;
      const { chunk, resolve, reject } = this.waiting.shift()!;
      const data = Float64Array.from(chunk);
      slot.busy = (reply) => resolve({ sorted: toNumbers(reply.data), started: reply.started, finished: reply.finished, arrived: Date.now() });
      slot.fail = reject;
      const request: SortRequest = { id: this.nextId++, data };
      slot.thread.postMessage(request, [data.buffer]);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const w of this.waiting.splice(0)) w.reject(new Error('the sort threads were closed'));
    await Promise.all(this.slots.map((s) => s.thread.terminate()));
  }
}
