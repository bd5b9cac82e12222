/**
 * Slow links through lab's link proxy on a netns lab (`links: proxy`; this kernel has no tc netem), as root: a
 * round trip from HOST3 to the backend's Redis on HOST2 (a PING and its -NOAUTH answer, through the proxy) before,
 * during `lab fault slow HOST3 by 100ms` (about 100 ms more) and after its heal (back); the fault is recorded with
 * mechanism proxy; no rule file stays; `lab status` shows the proxies; after `lab down` no proxy process runs.
 * A Redis broker keeps the lab small and quick to bring up (no RabbitMQ).
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import { netnsNames } from '../../lab/providers/netns.js';
import { lab, startLab, waitOutput } from '../support/cli.js';
import { run as sh } from '../support/netns-lab.js';
import { root, serviceBinaries } from '../support/prereq.js';

const LAB = 'e2eslowproxy';
const SUBNET = '198.19.167';

/** p50 of n round trips from HOST3 to HOST2:6379 (Redis answers PING before AUTH with -NOAUTH: one line back). */
async function pingP50(n: number): Promise<number> {
  const script = [
    "const s = require('net').connect({ host: process.argv[1], port: 6379, noDelay: true });",
    's.once("connect", async () => { const t = [];',
    `  for (let i = 0; i < ${n}; i++) { const a = performance.now(); s.write("PING\\r\\n"); await new Promise((r) => s.once("data", r)); t.push(performance.now() - a); }`,
    '  t.sort((a, b) => a - b); console.log(t[Math.floor(t.length / 2)]); s.destroy(); });',
  ].join('\n');
  const r = await sh(['ip', 'netns', 'exec', netnsNames(LAB, 'HOST3').namespace, process.execPath, '-e', script, `${SUBNET}.12`]);
  assert.equal(r.code, 0, r.stderr);
  return Number(r.stdout.trim());
}

/** Rule files in the lab's link proxies' folders (HOST2 runs Redis, HOST4 the quote server). */
async function ruleFiles(): Promise<string[]> {
  const out: string[] = [];
  for (const h of ['HOST2', 'HOST4']) out.push(...(await readdir(`/var/lib/lab/${LAB}/${h}/link-proxy/rules`).catch(() => [] as string[])).map((f) => `${h}/${f}`));
  return out;
}

/** Link proxy processes of this test's lab (its LAB_HOME in their environment). */
async function proxyProcesses(home: string): Promise<string[]> {
  const mark = Buffer.from(`LAB_HOME=${home}\0`);
  const out: string[] = [];
  for (const e of await readdir('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const cmd = (await readFile(`/proc/${e}/cmdline`)).toString().split('\0');
      if (cmd.includes('link-proxy') && (await readFile(`/proc/${e}/environ`)).includes(mark)) out.push(`${e} ${cmd.join(' ')}`);
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

test('slow HOST3 through the link proxy: about the delay more while it lasts, back after; nothing left', { timeout: 300_000 }, async (t) => {
  if (!(await root(t))) return;
  if (!(await serviceBinaries(t))) return;
  const home = await mkdtemp(join(tmpdir(), 'lab-slowproxy-'));
  const env = { LAB_HOME: home, LAB_REPORTS_DIR: join(home, 'reports') };
  const run = (args: string[]): ReturnType<typeof lab> => lab(args, { env, cwd: home, timeoutMs: 200_000 });
  t.after(async () => {
    await run(['down', '--lab', LAB]);
    await rm(home, { recursive: true, force: true });
  });
  const inventory = join(home, 'hosts.yaml');
  await writeFile(inventory, [`lab: ${LAB}`, 'provider: netns', `subnet: ${SUBNET}.0/24`, 'links: proxy', 'broker: { kind: redis }', 'hosts:', '  HOST2: { roles: [broker, backend] }', '  HOST3: {}', '  HOST4: {}', ''].join('\n'));
  const up = await run(['up', '--hosts', inventory]);
  assert.equal(up.code, 0, `${up.stdout}\n${up.stderr}`);
  const status = await run(['status']);
  assert.match(status.stdout, /link-proxy +│ HOST2 .*in front of redis :6379/);
  assert.match(status.stdout, /links: through lab's link proxy/);

  const before = await pingP50(20);
  const slow = startLab(['fault', 'slow', 'HOST3', 'by', '100ms', '--for', '8s'], { env, cwd: home });
  assert.ok(await waitOutput(slow, /link proxy: HOST3 .*\+100ms on HOST4/, 60_000), slow.output());
  const listed = JSON.parse((await run(['fault', 'list', '--json'])).stdout) as { mechanism: string }[];
  assert.deepEqual(listed.map((f) => f.mechanism), ['proxy']);
  const during = await pingP50(10);
  const done = await slow.done;
  assert.equal(done.code, 0, slow.output());
  const after = await pingP50(20);
  // the delay is one way (what HOST3 sends), so a round trip takes about 100 ms more
  assert.ok(during - before >= 90 && during - before < 400, `before ${before.toFixed(1)} ms, during ${during.toFixed(1)} ms`);
  assert.ok(after < before + 50, `healed: before ${before.toFixed(1)} ms, after ${after.toFixed(1)} ms`);
  assert.deepEqual(await ruleFiles(), [], 'no rule left');
  assert.deepEqual(JSON.parse((await run(['fault', 'list', '--json'])).stdout), []);
  assert.ok((await proxyProcesses(home)).length === 2, 'two link proxies ran (HOST2, HOST4)');

  const down = await run(['down']);
  assert.equal(down.code, 0, down.stderr);
  assert.deepEqual(await proxyProcesses(home), [], 'no proxy process after lab down');
});
