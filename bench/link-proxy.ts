/**
 * What lab's link proxy (inventory `links: proxy`) costs when no fault is in effect, and what a slow-link rule adds:
 * a TCP echo server on 127.0.0.1:P and the proxy in front of it on 127.0.0.2:P — the layout a service host of a
 * `links: proxy` lab has (service on loopback, proxy on the lab address, same port) — in this process. Interleaved
 * rounds of: round trips of 64 bytes on one connection (p50, p99), direct and through the proxy; 32 MiB echoed
 * (MB/s); then the round trip with a 20 ms rule for the peer (expected: about p50 + 20 ms, the delay being one way).
 * The proxy runs as `lab link-proxy` in a process of its own, as on a lab host; the echo server and the client here.
 *
 * Usage: node dist/bench/link-proxy.js [--rounds 5] [--trips 500] [--json]
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LinkProxySpec } from '../lab/services/link-proxy.js';
import { summarize } from '../lab/report/statistics.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

const arg = (name: string, def: string): string => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1]! : def;
};
const ROUNDS = Number(arg('--rounds', '5'));
const TRIPS = Number(arg('--trips', '500'));
const BULK = 32 * 1024 * 1024;

async function open(host: string, port: number): Promise<Socket> {
  const s = connect({ host, port, noDelay: true });
  await new Promise<void>((r, j) => s.once('connect', r).once('error', j));
  return s;
}

/** Round trips of 64 bytes: each waits for its whole echo. Returns the sorted times (ms). */
async function trips(host: string, port: number, n: number): Promise<number[]> {
  const s = await open(host, port);
  const msg = Buffer.alloc(64, 7);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    s.write(msg);
    let got = 0;
    await new Promise<void>((r) => {
      const on = (d: Buffer): void => {
        got += d.length;
        if (got >= msg.length) {
          s.off('data', on);
          r();
        }
      };
      s.on('data', on);
    });
    out.push(performance.now() - t);
  }
  s.destroy();
  return out.sort((a, b) => a - b);
}

/** BULK bytes sent and echoed back: MB/s of the whole round. */
async function bulk(host: string, port: number): Promise<number> {
  const s = await open(host, port);
  const t = performance.now();
  let got = 0;
  const done = new Promise<void>((r) =>
    s.on('data', (d: Buffer) => {
      got += d.length;
      if (got >= BULK) r();
    }),
  );
  const chunk = Buffer.alloc(64 * 1024, 1);
  for (let sent = 0; sent < BULK; sent += chunk.length) if (!s.write(chunk)) await new Promise((r) => s.once('drain', r));
  await done;
  s.destroy();
  return BULK / 1e6 / ((performance.now() - t) / 1000);
}

const median = (xs: number[]): number => summarize(xs).median;

const echo = createServer({ noDelay: true }, (s) => s.pipe(s));
await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
const port = (echo.address() as { port: number }).port;
const dir = await mkdtemp(join(tmpdir(), 'lab-bench-proxy-'));
// the proxy in a process of its own, as on a lab host (`lab link-proxy <spec>`), so it does not share this event loop
const spec: LinkProxySpec = { address: '127.0.0.2', ports: [{ service: 'echo', port, target: { host: '127.0.0.1', port } }], rulesDir: join(dir, 'rules') };
await writeFile(join(dir, 'spec.json'), JSON.stringify(spec));
const child = spawn(process.execPath, [join(ROOT, 'bin/lab.js'), 'link-proxy', join(dir, 'spec.json')], { stdio: ['ignore', 'ignore', 'pipe'] });
let log = '';
child.stderr.on('data', (d: Buffer) => (log += d.toString()));
const waitLog = async (re: RegExp): Promise<void> => {
  for (const t0 = Date.now(); !re.test(log); ) {
    if (Date.now() - t0 > 20_000 || child.exitCode !== null) throw new Error(`link proxy: ${log}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};
await waitLog(/echo: 127\.0\.0\.2/);
const r = { direct: { p50: [] as number[], p99: [] as number[], mbps: [] as number[] }, proxy: { p50: [] as number[], p99: [] as number[], mbps: [] as number[] } };
try {
  for (let round = 0; round < ROUNDS; round++) {
    for (const [which, host] of [['direct', '127.0.0.1'], ['proxy', '127.0.0.2']] as const) {
      const t = summarize(await trips(host, port, TRIPS));
      r[which].p50.push(t.median);
      r[which].p99.push(t.p99);
      r[which].mbps.push(await bulk(host, port));
    }
  }
  // a rule for the peer (this process connects from 127.0.0.1): what it sends is delayed 20 ms
  await writeFile(join(dir, 'rules', 'bench.json'), JSON.stringify({ id: 'bench', address: '127.0.0.1', delayMs: 20 }));
  await waitLog(/rules: bench/);
  const slowed = median(await trips('127.0.0.2', port, 50));
  const out = {
    trips: TRIPS,
    rounds: ROUNDS,
    directP50Ms: median(r.direct.p50),
    proxyP50Ms: median(r.proxy.p50),
    p50Ratio: median(r.proxy.p50) / median(r.direct.p50),
    directP99Ms: median(r.direct.p99),
    proxyP99Ms: median(r.proxy.p99),
    directMBps: median(r.direct.mbps),
    proxyMBps: median(r.proxy.mbps),
    throughputRatio: median(r.proxy.mbps) / median(r.direct.mbps),
    slowed20msP50Ms: slowed,
  };
  if (process.argv.includes('--json')) process.stdout.write(`${JSON.stringify(out)}\n`);
  else {
    const f = (x: number): string => x.toFixed(3);
    process.stdout.write(
      `64-byte round trip p50: direct ${f(out.directP50Ms)} ms, through the proxy ${f(out.proxyP50Ms)} ms (× ${out.p50Ratio.toFixed(2)}); p99 ${f(out.directP99Ms)} / ${f(out.proxyP99Ms)} ms\n` +
        `32 MiB echoed: direct ${out.directMBps.toFixed(0)} MB/s, through the proxy ${out.proxyMBps.toFixed(0)} MB/s (× ${out.throughputRatio.toFixed(2)})\n` +
        `with a 20 ms rule for the peer: p50 ${f(out.slowed20msP50Ms)} ms\n`,
    );
  }
} finally {
  child.kill('SIGTERM');
  echo.close();
  await rm(dir, { recursive: true, force: true });
}
