/**
 * examples/ci/smoke.sh — the steps of the example workflows — run as a CI job runs them: by a user who is not root
 * (a throwaway one, in a folder that user can reach), in a project that installed lab from the tarball `npm pack`
 * makes, against the RabbitMQ and Redis of this machine (a vhost and user of its own, a Redis ACL user of its own)
 * given as existing services. First refused credentials: exit 2, the URL masked, nothing started. Then the whole
 * job: lab up starts only workers and the quote server, six smoke scenarios pass, a JUnit file and an HTML report are
 * written, the check passes, lab down leaves no process of that user — and the broker and backend are untouched.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, readdir, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../support/cli.js';
import { needs, rabbitmq, redis, root } from '../support/prereq.js';
import { generateSecret } from '../../lab/topology/state.js';
import { createServer } from 'node:net';

const run = promisify(execFile);

async function sh(cmd: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<{ code: number; out: string }> {
  try {
    const r = await run(cmd, args, { cwd: options.cwd, env: options.env ?? process.env, timeout: options.timeoutMs ?? 120_000, maxBuffer: 32 * 1024 * 1024 });
    return { code: 0, out: r.stdout + r.stderr };
  } catch (err) {
    const e = err as { code?: number | string; stdout?: string; stderr?: string; message: string };
    return { code: typeof e.code === 'number' ? e.code : 1, out: `${e.stdout ?? ''}${e.stderr ?? e.message}` };
  }
}

async function must(cmd: string, args: string[]): Promise<string> {
  const r = await sh(cmd, args);
  assert.equal(r.code, 0, `${cmd} ${args.join(' ')}: ${r.out}`);
  return r.out;
}

/** A TCP port nothing listens on now (the quote server's: other labs on this machine use 8000). */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
    s.once('error', reject);
  });
}

/**
 * The user's processes that still run (zombies — exited, waiting for a parent to reap them — are not), after giving
 * processes that were just stopped a few seconds to go.
 */
async function livingProcesses(user: string): Promise<string[]> {
  let living: string[] = [];
  for (let i = 0; i < 20; i++) {
    const ps = await sh('ps', ['-u', user, '-o', 'stat=,pid=,args=']);
    living = ps.out.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('Z'));
    if (living.length === 0) return [];
    await new Promise((r) => setTimeout(r, 250));
  }
  return living;
}

const tools = (t: Parameters<typeof root>[0]): Promise<boolean> =>
  needs(t, 'useradd, runuser, rabbitmqctl, redis-cli', async () => {
    for (const bin of ['useradd', 'userdel', 'runuser', 'rabbitmqctl', 'redis-cli']) if ((await sh('sh', ['-c', `command -v ${bin}`])).code !== 0) return `${bin} is missing`;
    return null;
  });

test('the example CI job as a non-root user against existing RabbitMQ and Redis', { timeout: 600_000 }, async (t) => {
  if (!(await root(t)) || !(await rabbitmq(t)) || !(await redis(t)) || !(await tools(t))) return;
  const id = randomBytes(3).toString('hex');
  const user = `labci${id}`;
  const vhost = `lab-ci-${id}`;
  const password = generateSecret();
  const base = await realpath(await mkdtemp(join(tmpdir(), 'lab-ci-job-')));
  // mkdtemp makes a 0700 folder: the user could not reach anything inside it
  await chmod(base, 0o755);
  const home = join(base, 'home');
  const project = join(base, 'project');
  const rabbitmqctl = (...args: string[]) => sh('rabbitmqctl', ['-q', ...args], { env: { ...process.env, HOME: '/var/lib/rabbitmq' } });
  t.after(async () => {
    await sh('pkill', ['-KILL', '-u', user]);
    await sh('userdel', ['--force', user]);
    await rabbitmqctl('delete_vhost', vhost);
    await rabbitmqctl('delete_user', vhost);
    await sh('redis-cli', ['-h', '127.0.0.1', 'ACL', 'DELUSER', vhost]);
    await rm(base, { recursive: true, force: true });
  });

  await must('useradd', ['--home-dir', home, '--create-home', '--shell', '/bin/bash', '--user-group', user]);
  for (const args of [['add_vhost', vhost], ['add_user', vhost, password], ['set_permissions', '-p', vhost, vhost, '.*', '.*', '.*']]) {
    const r = await rabbitmqctl(...args);
    assert.equal(r.code, 0, `rabbitmqctl ${args[0]}: ${r.out}`);
  }
  await must('redis-cli', ['-h', '127.0.0.1', 'ACL', 'SETUSER', vhost, 'on', `>${password}`, '~*', '&*', '+@all']);

  // The tarball, as the README says to make it; the project installs it under the name lab.
  const pack = await sh('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', base], { cwd: REPO_ROOT });
  assert.equal(pack.code, 0, pack.out);
  const [{ filename }] = JSON.parse(pack.out.slice(pack.out.indexOf('['))) as { filename: string }[];
  await mkdir(project);
  await writeFile(join(project, 'package.json'), JSON.stringify({ name: 'my-service', version: '1.0.0', private: true }, null, 2));
  const port = await freePort();
  const inventory = (await readFile(join(REPO_ROOT, 'examples', 'ci', 'lab-ci.yaml'), 'utf8')).replace('quotes: 8000', `quotes: ${port}`).replace('lab: ci', `lab: ci-${id}`);
  await writeFile(join(project, 'lab-ci.yaml'), inventory);
  await must('chown', ['-R', `${user}:${user}`, project, join(base, filename)]);

  const env = {
    HOME: home,
    USER: user,
    PATH: `${dirname(process.execPath)}:/usr/local/bin:/usr/bin:/bin`,
    LANG: 'C.UTF-8',
    CI: 'true',
    // how this machine reaches the npm registry, if the environment says: proxies, certificates, the registry — not
    // the rest of npm_config_* (under `npm test` those name root's cache and config, which the user cannot use)
    ...Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => /^(npm_config_registry|https?_proxy|no_proxy|NODE_EXTRA_CA_CERTS)$/i.test(e[0]) && typeof e[1] === 'string')),
  };
  const asUser = (args: string[], extra: Record<string, string> = {}, timeoutMs = 300_000) =>
    sh('runuser', ['-u', user, '--', 'env', '-i', ...Object.entries({ ...env, ...extra }).map(([k, v]) => `${k}=${v}`), ...args], { cwd: project, timeoutMs });

  // A CI cache, as CI systems keep one: a copy of this machine's npm cache, so the install need not fetch every package.
  const cache = (await sh('npm', ['config', 'get', 'cache'])).out.trim();
  if (cache && (await sh('test', ['-d', join(cache, '_cacache')])).code === 0) {
    await mkdir(join(home, '.npm'), { recursive: true });
    await must('cp', ['-a', join(cache, '_cacache'), join(home, '.npm', '_cacache')]);
    await must('chown', ['-R', `${user}:${user}`, join(home, '.npm')]);
  }
  const t0 = Date.now();
  const install = await asUser(['npm', 'install', '--no-save', `lab@file:../${filename}`, '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts'], {}, 480_000);
  assert.equal(install.code, 0, install.out);
  t.diagnostic(`npm install of the tarball as ${user}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);

  const urls = {
    RABBITMQ_URL: `amqp://${vhost}:${password}@127.0.0.1:5672/${vhost}`,
    REDIS_URL: `redis://${vhost}:${password}@127.0.0.1:6379/0`,
    LAB_INVENTORY: 'lab-ci.yaml',
    LAB_REPORTS_DIR: 'lab-reports',
  };

  // Refused credentials: exit 2, the URL masked, nothing started (no state, no process of the user).
  const refused = await asUser(['npx', 'lab', 'up', '--hosts', 'lab-ci.yaml'], { ...urls, RABBITMQ_URL: urls.RABBITMQ_URL.replace(password, 'wrong-password') });
  assert.equal(refused.code, 2, refused.out);
  assert.match(refused.out, new RegExp(`broker amqp://${vhost}:\\*\\*\\*\\*@127\\.0\\.0\\.1:5672/${vhost} \\(from \\$RABBITMQ_URL\\) refused the credentials`));
  assert.ok(!refused.out.includes('wrong-password') && !refused.out.includes(password), 'no password in the output');
  assert.deepEqual(await readdir(join(home, '.lab')).catch(() => []), [], 'no lab state');
  assert.deepEqual(await livingProcesses(user), [], 'no process of the user');

  // The job.
  const job = await asUser(['bash', 'node_modules/lab/examples/ci/smoke.sh'], urls, 480_000);
  t.diagnostic(job.out.split('\n').filter((l) => /^(smoke:|checks|[✓✗?] )/.test(l)).join('\n'));
  assert.equal(job.code, 0, job.out);
  assert.match(job.out, /smoke: 6 of 6 passed on local lab "ci-[0-9a-f]+" in [\d.]+ s/);
  const smokeS = Number(/smoke: 6 of 6 passed .* in ([\d.]+) s/.exec(job.out)![1]);
  t.diagnostic(`lab run smoke on this machine (local lab, existing RabbitMQ and Redis): ${smokeS} s`);
  assert.match(job.out, /✓ currency pairs=.*: distributed\/sequential [\d.]+× ≤ 1\.00×/);
  assert.match(job.out, /checks passed/);
  assert.match(job.out, /external broker: amqp:\/\/lab-ci-[0-9a-f]+:\*\*\*\*@127\.0\.0\.1:5672\/lab-ci-[0-9a-f]+: AMQP login ok/);
  assert.match(job.out, /lab ci-[0-9a-f]+ is up/);
  // lab started the workers and the quote server only, and removed just those (and their folder)
  assert.match(job.out, /lab ci-[0-9a-f]+: removed 3 things/);
  assert.doesNotMatch(job.out, /rabbitmq: (pid|starting)|redis: (pid|starting)/);
  assert.ok(!job.out.includes(password), 'no password in the output');

  const junit = await readFile(join(project, 'lab-reports', 'junit.xml'), 'utf8');
  assert.match(junit, /^<\?xml version="1\.0" encoding="UTF-8"\?>\n<testsuites name="lab" tests="\d+" failures="0"/);
  assert.deepEqual([...junit.matchAll(/<testsuite name="([^"]+)"/g)].map((m) => m[1]), ['echo', 'currency', 'mergesort', 'exception', 'retry', 'purge']);
  assert.match(await readFile(join(project, 'lab-reports', 'report.html'), 'utf8'), /<html/);

  // lab down stopped everything lab started and nothing else: no process of the user, the services still there.
  assert.deepEqual(await livingProcesses(user), [], 'no process of the user after lab down');
  assert.match((await rabbitmqctl('list_vhosts')).out, new RegExp(`^${vhost}$`, 'm'));
  assert.match((await sh('redis-cli', ['-h', '127.0.0.1', '--user', vhost, '--pass', password, '--no-auth-warning', 'PING'])).out, /PONG/);
});
