/**
 * Loaded into a lab worker with `node --import` by bench/echo-trace (forked pool children inherit it): timestamps
 * every hop the runtime publishes (lab/queue/hops.ts) and, when the process exits, writes them as JSON lines to
 * $LAB_HOPS_DIR/<pid>-<thread>.jsonl — one file per process, read by the bench after the worker stopped.
 */
import { subscribe } from 'node:diagnostics_channel';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { threadId } from 'node:worker_threads';
import { HOPS_CHANNEL } from '../lab/queue/index.js';
import type { HopEvent } from '../lab/queue/index.js';

/** A hop as recorded: the event and when (ms since the epoch, sub-ms resolution: comparable across processes). */
export interface RecordedHop extends HopEvent {
  at: number;
}

const dir = process.env.LAB_HOPS_DIR;
if (dir) {
  const seen: RecordedHop[] = [];
  subscribe(HOPS_CHANNEL, (message) => seen.push({ ...(message as HopEvent), at: performance.timeOrigin + performance.now() }));
  process.on('exit', () => {
    if (seen.length) writeFileSync(join(dir, `${process.pid}-${threadId}.jsonl`), seen.map((h) => JSON.stringify(h)).join('\n') + '\n');
  });
}
