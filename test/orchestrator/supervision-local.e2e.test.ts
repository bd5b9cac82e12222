/**
 * Supervision on the local provider, as a user runs it (no root): every service of the lab runs under lab's
 * supervisor; Redis killed with SIGKILL comes back by itself (its restart count and time to recover in
 * `lab status --json`, its log going on); a host's own service (inventory `services:`) starts after lab's with the
 * lab's URLs in its environment — not on its command line — is ready by a line of its log and shows in `lab logs
 * HOST NAME`; a service whose command exits at once makes `lab up` fail once its policy gave up, with the log's
 * tail and the restart count; `lab down` leaves no process and no file.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import type { LabStatus, ServiceStatus } from '../../lab/orchestrator/status.js';
import { alive, lab } from '../support/cli.js';
import { processesWithEnv } from '../support/lab-clean.js';
import { serviceBinaries } from '../support/prereq.js';

const GREETER = [
  'sh',
  '-c',
  // what it sees, without ever printing a secret: the schemes of the lab's URLs
  'echo "greeter $LAB_SERVICE_NAME#$LAB_SERVICE_INDEX broker=${LAB_BROKER_URL%%:*} celery=${CELERY_BROKER_URL%%:*} backend=${CELERY_RESULT_BACKEND%%:*} quotes=${LAB_QUOTES_URL%%:*}"; sleep 0.3; echo "greeter ready to serve"; exec sleep 100000',
];

function inventory(lab: string, ports: [number, number, number], service: { name: string; command: string[]; ready?: string }): string {
  return [
    `lab: ${lab}`,
    'provider: local',
    `ports: { broker: ${ports[0]}, backend: ${ports[1]}, quotes: ${ports[2]} }`,
    'hosts:',
    '  HOST1:',
    '  HOST2:',
    '  HOST3:',
    '    concurrency: 1',
    '    services:',
    `      ${service.name}:`,
    `        command: ${JSON.stringify(service.command)}`,
    ...(service.ready ? [`        ready: { log: ${JSON.stringify(service.ready)} }`] : []),
    '  HOST4:',
    '',
  ].join('\n');
}

async function statusOf(run: (a: string[]) => ReturnType<typeof lab>): Promise<LabStatus> {
  const r = await run(['status', '--json']);
  return JSON.parse(r.stdout) as LabStatus;
}

function service(s: LabStatus, name: string): ServiceStatus {
  const found = s.services.find((x) => x.service === name);
  assert.ok(found, `no service ${name} in ${s.services.map((x) => x.service).join(', ')}`);
  return found;
}

test('local lab under supervision: a killed Redis comes back, a user service, a service that cannot start, a clean down', { timeout: 300_000 }, async (t) => {
  if (!(await serviceBinaries(t))) return;
  const home = await mkdtemp(join(tmpdir(), 'lab-supervise-'));
  const env = { LAB_HOME: home };
  const run = (args: string[]): ReturnType<typeof lab> => lab(args, { env, cwd: home, timeoutMs: 150_000 });
  t.after(async () => {
    await run(['down', '--lab', 'e2esuper']);
    await run(['down', '--lab', 'e2esuperbad']);
    await rm(home, { recursive: true, force: true });
  });

  const good = join(home, 'good.yaml');
  await writeFile(good, inventory('e2esuper', [5781, 6481, 8181], { name: 'greeter', command: GREETER, ready: '^greeter ready' }));
  const up = await run(['up', '--hosts', good]);
  assert.equal(up.code, 0, `${up.stdout}\n${up.stderr}`);

  let s = await statusOf(run);
  assert.equal(s.healthy, true, JSON.stringify(s.services, null, 2));
  assert.deepEqual(s.services.map((x) => [x.service, x.kind, x.supervision?.mode, x.supervision?.restarts]), [
    ['rabbitmq', 'lab', 'lab', 0],
    ['redis', 'lab', 'lab', 0],
    ['quotes', 'lab', 'lab', 0],
    ['workers', 'lab', 'lab', 0],
    ['greeter', 'user', 'lab', 0],
  ]);
  assert.equal(s.persistence, 'aof-everysec');
  assert.equal(s.brokerKind, 'rabbitmq');

  // the user's service: the lab's URLs in its environment, none on its command line, its log in lab logs
  const greeter = service(s, 'greeter');
  assert.equal(greeter.health, 'ready');
  const cmdline = await readFile(`/proc/${greeter.pid}/cmdline`, 'utf8');
  const state = JSON.parse(await readFile(join(home, 'e2esuper', 'state.json'), 'utf8')) as { credentials: { rabbitmq: { password: string }; redis: { password: string } } };
  assert.ok(!cmdline.includes(state.credentials.rabbitmq.password) && !cmdline.includes(state.credentials.redis.password), 'no password on its command line');
  const logs = await run(['logs', 'HOST3', 'greeter']);
  assert.equal(logs.code, 0, logs.stderr);
  assert.match(logs.stdout, /^greeter greeter#0 broker=amqp celery=amqp backend=redis quotes=http$/m);
  assert.match(logs.stdout, /greeter: ready: log line "greeter ready to serve"/);

  // Redis killed with SIGKILL: back by itself, counted, its log going on
  const redis = service(s, 'redis');
  process.kill(redis.pid!, 'SIGKILL');
  const deadline = Date.now() + 30_000;
  for (;;) {
    s = await statusOf(run);
    const r = service(s, 'redis');
    if (r.healthy && r.supervision?.restarts === 1 && r.supervision.state === 'ready') break;
    assert.ok(Date.now() < deadline, `redis did not come back: ${JSON.stringify(r)}`);
    await new Promise((res) => setTimeout(res, 250));
  }
  const back = service(s, 'redis');
  assert.notEqual(back.pid, redis.pid);
  assert.equal(alive(redis.pid!), false);
  assert.equal(back.supervision?.lastExit?.signal, 'SIGKILL');
  assert.equal(back.supervision?.history?.length, 1);
  assert.ok((back.supervision?.history?.[0]?.recoveryMs ?? -1) >= 0, 'the time to recover is a figure');
  const redisLog = (await run(['logs', 'HOST2', 'redis', '-n', '400'])).stdout;
  assert.equal(redisLog.match(/Ready to accept connections/g)?.length, 2, 'one log, both runs');
  assert.match(redisLog, /redis: killed by SIGKILL after/);
  const table = await run(['status']);
  assert.match(table.stdout, /│ redis +│ HOST2 │ \d+ +│ lab +│ 1 +│ SIGKILL at [\d:]+ +│ ✓ AUTH \+ PING ok/);
  assert.match(table.stdout, /greeter \(own\)/);
  const pids = s.services.flatMap((x) => (x.pid ? [x.pid] : []));

  const down = await run(['down']);
  assert.equal(down.code, 0, `${down.stdout}\n${down.stderr}`);
  for (const pid of pids) assert.equal(alive(pid), false, `pid ${pid} still runs`);
  assert.deepEqual(processesWithEnv(`LAB_HOME=${home}`), [], 'no process of the lab is left');
  assert.equal(existsSync(join(home, 'e2esuper')), false, 'no file of the lab is left');

  // a service that cannot start: lab up fails once the policy gave up, saying why and how often it tried
  const bad = join(home, 'bad.yaml');
  await writeFile(bad, inventory('e2esuperbad', [5782, 6482, 8182], { name: 'crashy', command: ['sh', '-c', 'echo "crashy: cannot read /etc/crashy.conf" >&2; exit 3'] }));
  const failed = await run(['up', '--hosts', bad]);
  assert.equal(failed.code, 1, failed.stdout);
  assert.match(failed.stderr, /^lab: HOST3: service crashy did not start: exited with code 3 after [\d.]+ s before it was ready, 4 times in a row: gave up after 3 restarts \(maxRestarts 3\)$/m);
  assert.match(failed.stderr, /--- last lines of \S+crashy\.log on HOST3 ---/);
  assert.match(failed.stderr, /^crashy: cannot read \/etc\/crashy\.conf$/m);
  const sb = await statusOf(run);
  assert.equal(sb.healthy, false);
  const crashy = service(sb, 'crashy');
  assert.deepEqual([crashy.running, crashy.supervision?.state, crashy.supervision?.restarts, crashy.supervision?.lastExit?.code], [false, 'failed', 3, 3]);
  const downBad = await run(['down']);
  assert.equal(downBad.code, 0, downBad.stderr);
  assert.deepEqual(processesWithEnv(`LAB_HOME=${home}`), []);
  assert.equal(existsSync(join(home, 'e2esuperbad')), false);
});
