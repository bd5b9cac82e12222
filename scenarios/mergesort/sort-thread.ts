/**
 * One thread of mergesort's parallel mode: sorts the chunks the master posts, with the same merge sort the tasks
 * run, and posts each back with when it started and finished (epoch ms, this thread's clock).
 */
import { parentPort } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { mergeSort } from './merge-sort.js';
import { toNumbers } from './number-array.js';

export interface SortRequest {
  id: number;
  data: Float64Array;
}

export interface SortReply {
  id: number;
  data: Float64Array;
  started: number;
  finished: number;
}

const port = parentPort;
if (!port) throw new Error('sort-thread.js runs as a worker thread of mergesort\'s parallel mode');
port.on('message', (m: SortRequest) => {
  const started = performance.timeOrigin + performance.now();
  const sorted = Float64Array.from(mergeSort(toNumbers(m.data)));
  const reply: SortReply = { id: m.id, data: sorted, started, finished: performance.timeOrigin + performance.now() };
  port.postMessage(reply, [sorted.buffer]);
});
