/**
 * `lab down --lab NAME --discover --hosts INVENTORY` for an ssh lab (sshd in network namespaces on this machine, as
 * root) whose state folder was deleted: `lab down` alone says the lab is not up; --discover connects to the
 * inventory's hosts and stops every process carrying the lab's token (the supervisors, the workers, Redis) and
 * removes the work directories whose .lab-token holds it — and leaves alone a process that carries the token of
 * another lab of the same name (another home), and a folder of the lab's name with no token file.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import { findByEnv } from '../../lab/providers/local-process.js';
import { LAB_TOKEN_ENV, labToken } from '../../lab/providers/provider.js';
import { startSshdLab } from '../../support/sshd-lab.js';
import { alive, lab } from '../support/cli.js';
import { processes } from '../support/leftovers.js';
import { root, serviceBinaries } from '../support/prereq.js';

const LAB = 'e2esshdisc';

/**
 * Pids of this machine working in a folder under one of `roots` — whatever their environment says: Redis rewrites
 * its process title over its environment, so a token search cannot see it, and this can.
 */
async function workingUnder(roots: string[]): Promise<string[]> {
  return (await processes()).filter((p) => roots.some((r) => p.cwd === r || p.cwd.startsWith(`${r}/`))).map((p) => `${p.pid} (${p.comm}) in ${p.cwd}`);
}

test('lab down --discover removes an ssh lab whose state is gone, by its token, and only that lab', { timeout: 600_000 }, async (t) => {
  if (!(await root(t))) return;
  if (!(await serviceBinaries(t, ['/usr/sbin/sshd']))) return;
  const sshd = await startSshdLab(3);
  const home = await mkdtemp(join(tmpdir(), 'lab-ssh-disc-'));
  const keep = await mkdtemp(join(tmpdir(), 'lab-ssh-disc-inv-'));
  const run = (args: string[]): ReturnType<typeof lab> => lab(args, { env: { LAB_HOME: home }, cwd: tmpdir(), timeoutMs: 300_000 });
  const inventory = join(keep, 'pis.yaml');
  const decoyDir = `/var/lib/lab/${LAB}/HOST3`; // HOST3 works in /root/.lab: this one is not the lab's
  // a process of another lab of the same name (another home): its token differs
  const otherToken = `${LAB_TOKEN_ENV}=${labToken(LAB, join(keep, 'elsewhere', LAB))}`;
  const decoy = spawn('sleep', ['300'], { env: { ...process.env, [LAB_TOKEN_ENV]: otherToken.split('=')[1] }, stdio: 'ignore' });
  t.after(async () => {
    decoy.kill('SIGKILL');
    await run(['down', '--lab', LAB, '--discover', '--hosts', inventory]);
    await sshd.cleanup();
    await rm(decoyDir, { recursive: true, force: true });
    await rm(`/var/lib/lab/${LAB}`, { recursive: true, force: true }); // the decoy's parent (the lab's own went with it)
    await rm(home, { recursive: true, force: true });
    await rm(keep, { recursive: true, force: true });
  });
  const roles = ['[broker, backend]', '[workers]', '[master]'];
  await writeFile(
    inventory,
    [`lab: ${LAB}`, 'provider: ssh', 'broker: { kind: redis }', `defaults: { user: root, key: ${sshd.clientKey}, concurrency: 1 }`, 'hosts:', ...sshd.hosts.map((h, i) => `  ${h.name}: { address: ${h.address}, port: ${h.port}, roles: ${roles[i]} }`), ''].join('\n'),
  );
  const up = await run(['up', '--hosts', inventory]);
  assert.equal(up.code, 0, `${up.stdout}\n${up.stderr}`);
  // The sshd hosts share this machine's PID namespace: lab's own scan of /proc finds their processes.
  const mine = labToken(LAB, join(home, LAB));
  const procs = await findByEnv(LAB_TOKEN_ENV, mine);
  assert.ok(procs.length >= 3, `the lab's processes carry its token: ${procs.length}`);
  assert.ok((await workingUnder([`/var/lib/lab/${LAB}`, `/root/.lab/${LAB}`])).some((p) => p.includes('(redis-server)')), 'Redis runs in the lab\'s folder');
  const dirs = sshd.hosts.flatMap((h) => [`/root/.lab/${LAB}/${h.name}`, `/var/lib/lab/${LAB}/${h.name}`]).filter((d) => existsSync(d));
  assert.ok(!existsSync(decoyDir));
  assert.ok(dirs.length >= 2, `work directories: ${dirs.join(', ')}`);
  await mkdir(decoyDir, { recursive: true }); // the lab's name, no token file: not provably the lab's

  await rm(join(home, LAB), { recursive: true, force: true }); // the state is lost
  const plain = await run(['down', '--lab', LAB]);
  assert.match(plain.stdout, /not up/);
  const d = await run(['down', '--lab', LAB, '--discover', '--hosts', inventory]);
  assert.equal(d.code, 0, `${d.stdout}\n${d.stderr}`);
  assert.match(d.stdout, new RegExp(`lab ${LAB}: found by its token and removed \\d+ things \\([1-9]\\d* process(es)?, 0 units, ${dirs.length} work directories\\) on 3 hosts; left alone 1 not provably this lab's`));
  assert.deepEqual(await findByEnv(LAB_TOKEN_ENV, mine), [], 'no process of the lab is left');
  assert.deepEqual(await workingUnder([`/root/.lab/${LAB}`, `/var/lib/lab/${LAB}`]), [], 'no process works in the lab\'s folders (Redis among them)');
  assert.deepEqual(procs.filter(alive), []);
  assert.deepEqual(dirs.filter((x) => existsSync(x)), [], 'its work directories are gone');
  // another lab's process and a folder without the lab's token stay
  assert.ok(alive(decoy.pid!), 'the other lab of the same name keeps its process');
  assert.ok(existsSync(decoyDir));
  const again = await run(['down', '--lab', LAB, '--discover', '--hosts', inventory, '--json']);
  assert.equal(again.code, 0, again.stderr);
  assert.equal((JSON.parse(again.stdout) as { ssh: { processes: number; folders: number } }).ssh.processes, 0);
});
