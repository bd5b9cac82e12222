/** The fan-out both runtime benchmarks time: n echo tasks as one group through a lab client, every result checked. */
import { performance } from 'node:perf_hooks';
import { Signature } from '../lab/queue/index.js';
import type { App } from '../lab/queue/index.js';

/** The time until every result is in (ms); results missing or out of order are an error. */
export async function labFanout(app: App, n: number, timeoutS = 600): Promise<number> {
  const t0 = performance.now();
  const g = await app.sendGroup(Array.from({ length: n }, (_, i) => new Signature(app, 'test.echo', [i])));
  const results = await g.get({ timeout: timeoutS });
  const ms = performance.now() - t0;
  if (results.length !== n || results.some((v, i) => v !== i)) throw new Error('lab fan-out: results missing or out of order');
  await g.forget();
  return ms;
}
