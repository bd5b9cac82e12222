/**
 * The batched per-host checks on network namespaces, as root (providers/host-check.ts): with two workers hosts on
 * one queue, `lab up` again changes nothing (and asks no service its version again: the running ones told it); a
 * workers host whose supervisor and worker are killed with SIGKILL (nothing restarts them) is found by `lab status`
 * and started again by `lab up`, and a killed Redis with it (its version read again); a host's /etc/hosts that lost a
 * line is written again by `lab up`; `lab down` leaves no namespace or process of the lab.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import type { LabStatus } from '../../lab/orchestrator/status.js';
import { netnsNames } from '../../lab/providers/netns.js';
import { STATE_FILE, stateDir } from '../../lab/topology/state.js';
import { parseProcStat } from '../../lab/topology/proc.js';
import { alive, lab } from '../support/cli.js';
import { netnsList, processesWithEnv } from '../support/lab-clean.js';
import { root, serviceBinaries } from '../support/prereq.js';

const LAB = 'e2efastup';

test('netns lab: a killed workers host found by lab status and started again by lab up; a changed /etc/hosts written again; versions read only off services started', { timeout: 600_000 }, async (t) => {
  if (!(await root(t))) return;
  if (!(await serviceBinaries(t))) return;
  const home = await mkdtemp(join(tmpdir(), 'lab-fastup-'));
  const env = { LAB_HOME: home };
  const run = (args: string[]): ReturnType<typeof lab> => lab(args, { env, cwd: home, timeoutMs: 240_000 });
  t.after(async () => {
    await run(['down', '--lab', LAB]);
    await rm(home, { recursive: true, force: true });
  });
  const inventory = join(home, 'hosts.yaml');
  await writeFile(inventory, [`lab: ${LAB}`, 'provider: netns', 'subnet: 198.19.164.0/24', 'hosts:', '  HOST1:', '  HOST2:', '  HOST3: { concurrency: 1 }', '  HOST4:', '  HOST5: { roles: [workers], concurrency: 1 }', ''].join('\n'));
  const status = async (): Promise<{ code: number | null; s: LabStatus }> => {
    const r = await run(['status', '--json']);
    return { code: r.code, s: JSON.parse(r.stdout) as LabStatus };
  };
  const workersOn = (s: LabStatus, host: string): LabStatus['services'][number] => s.services.find((x) => x.service === 'workers' && x.host === host)!;

  const up = await run(['up', '--hosts', inventory]);
  assert.equal(up.code, 0, `${up.stdout}\n${up.stderr}`);
  // The versions the first up read off the services, replaced in state.json by marks: an up that starts none of
  // them must report the marks (their processes told their versions already), one that starts one reads it again.
  const stateFile = join(stateDir(LAB, home), STATE_FILE);
  const recorded = JSON.parse(await readFile(stateFile, 'utf8')) as { versions: Record<string, string> };
  assert.match(recorded.versions.rabbitmq ?? '', /^\d+\.\d+\.\d+$/);
  assert.match(recorded.versions.redis ?? '', /^\d+\.\d+\.\d+$/);
  await writeFile(stateFile, JSON.stringify({ ...recorded, versions: { rabbitmq: 'mark-r', redis: 'mark-b' } }), { mode: 0o600 });
  // two workers hosts share the queue: each host's canary is answered by its own worker (or credited to it)
  const again = await run(['up', '--hosts', inventory, '--json']);
  assert.equal(again.code, 0, again.stderr);
  assert.equal((JSON.parse(again.stdout) as { changed: boolean }).changed, false, 'a healthy lab: nothing changed');
  assert.deepEqual((JSON.parse(again.stdout) as { versions: Record<string, string> }).versions, { rabbitmq: 'mark-r', redis: 'mark-b' });
  let { code, s } = await status();
  assert.equal(code, 0);
  assert.equal(s.healthy, true, JSON.stringify(s.services, null, 2));
  assert.deepEqual(s.hosts.map((h) => [h.name, h.reachable]), ['HOST1', 'HOST2', 'HOST3', 'HOST4', 'HOST5'].map((h) => [h, true]));

  // HOST5's supervisor and its worker killed -9: its process group (the supervisor leads it) — nothing restarts them
  const killGroup = async (pid: number, what: string): Promise<void> => {
    const group = parseProcStat(await readFile(`/proc/${pid}/stat`, 'utf8'))!.pgrp;
    assert.notEqual(group, pid, `${what} runs under its supervisor`);
    process.kill(-group, 'SIGKILL');
    for (let i = 0; i < 50 && (alive(group) || alive(pid)); i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(alive(group) || alive(pid), false);
  };
  const worker = workersOn(s, 'HOST5').pid!;
  await killGroup(worker, 'the worker');
  ({ code, s } = await status());
  assert.equal(code, 1, 'lab status exits 1 on an unhealthy lab');
  assert.equal(s.healthy, false);
  const dead = workersOn(s, 'HOST5');
  assert.equal(dead.running, false, JSON.stringify(dead));
  assert.equal(dead.supervision?.supervisorRunning, false);
  assert.equal(workersOn(s, 'HOST3').healthy, true, "the other host's workers are unaffected");

  // Redis's supervisor and server killed as well: lab up starts it again, and reads its version again
  await killGroup(s.services.find((x) => x.service === 'redis')!.pid!, 'redis');
  // HOST3's /etc/hosts (the namespace's) loses HOST5's line
  const hostsFile = join('/etc/netns', netnsNames(LAB, 'HOST3').namespace, 'hosts');
  const before = await readFile(hostsFile, 'utf8');
  await writeFile(hostsFile, before.split('\n').filter((l) => !/\bHOST5\b/.test(l)).join('\n'));

  const repair = await run(['up', '--hosts', inventory, '--json']);
  assert.equal(repair.code, 0, `${repair.stdout}\n${repair.stderr}`);
  assert.equal((JSON.parse(repair.stdout) as { changed: boolean }).changed, true, 'the workers were started again');
  assert.deepEqual((JSON.parse(repair.stdout) as { versions: Record<string, string> }).versions, { rabbitmq: 'mark-r', redis: recorded.versions.redis }, 'the restarted Redis asked again, RabbitMQ not');
  assert.equal(await readFile(hostsFile, 'utf8'), before, '/etc/hosts written again');
  ({ code, s } = await status());
  assert.equal(code, 0);
  assert.equal(s.healthy, true, JSON.stringify(s.services, null, 2));
  assert.notEqual(workersOn(s, 'HOST5').pid, worker, 'a new worker');

  const down = await run(['down', '--lab', LAB]);
  assert.equal(down.code, 0, down.stderr);
  assert.deepEqual(netnsList().filter((n) => n.startsWith(`lab-${LAB}-`)), []);
  assert.deepEqual(processesWithEnv(`LAB_HOME=${home}`), []);
});
