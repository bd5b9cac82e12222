/**
 * lab's supervisor (`lab supervise <spec>`) as the providers start it: a process of its own, its output appended
 * to the service's log, LAB_PROCESS_TOKEN in its environment. Small shell programs stand in for services: killed
 * ones come back (the restart and its time to recover in the status file, the log going on), readiness by log line
 * and by port, a command that exits at once is given up on after maxRestarts (exit 1, the reason in the status),
 * the policies, what a run leaves behind is stopped before the next, and SIGTERM leaves nothing running.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { findByToken } from '../../lab/providers/local-process.js';
import { SUPERVISOR_LINE, instanceLogFile } from '../../lab/services/supervisor.js';
import type { SupervisorSpec, SupervisorStatus } from '../../lab/services/supervisor.js';
import { LAB_BIN, alive } from '../support/cli.js';

const dirs: string[] = [];
const tokens: string[] = [];

after(async () => {
  // nothing any test started may be left, whatever happened
  for (const t of tokens) for (const pid of await findByToken(t)) process.kill(pid, 'SIGKILL');
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

interface Running {
  pid: number;
  token: string;
  spec: SupervisorSpec;
  /** The supervisor's exit code. */
  done: Promise<number | null>;
  status(): Promise<SupervisorStatus>;
  log(file?: string): Promise<string>;
}

async function supervise(service: Partial<SupervisorSpec> & Pick<SupervisorSpec, 'command'>): Promise<Running> {
  const dir = await mkdtemp(join(tmpdir(), 'lab-supervisor-'));
  dirs.push(dir);
  const name = service.service ?? 'svc';
  const spec: SupervisorSpec = {
    version: 1,
    service: name,
    host: 'HOST1',
    count: 1,
    logFile: join(dir, `${name}.log`),
    statusFile: join(dir, 'supervise', `${name}.status.json`),
    restart: 'always',
    maxRestarts: 2,
    startMs: 300,
    stopGraceMs: 2000,
    backoff: { baseMs: 40, capMs: 200 },
    ...service,
  };
  const specFile = join(dir, `${name}.json`);
  await writeFile(specFile, JSON.stringify(spec));
  const token = randomBytes(8).toString('hex');
  tokens.push(token);
  const log = await open(spec.logFile, 'a');
  const child = spawn(process.execPath, [LAB_BIN, 'supervise', specFile], { detached: true, stdio: ['ignore', log.fd, log.fd], env: { ...process.env, LAB_PROCESS_TOKEN: token } });
  await log.close();
  const done = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    pid: child.pid!,
    token,
    spec,
    done,
    status: async () => JSON.parse(await readFile(spec.statusFile, 'utf8')) as SupervisorStatus,
    log: (file = spec.logFile) => readFile(file, 'utf8'),
  };
}

async function until<T>(what: string, f: () => Promise<T | null | undefined | false>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await f();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? ` (${String(last)})` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const readyStatus = (s: Running): Promise<SupervisorStatus> => until('the service to be ready', async () => ((await s.status()).state === 'ready' ? s.status() : null));

async function stopped(s: Running): Promise<void> {
  process.kill(s.pid, 'SIGTERM');
  assert.equal(await s.done, 0, 'a supervisor stopped by SIGTERM exits 0');
  await until('no process with its token', async () => (await findByToken(s.token)).length === 0, 5000);
}

/** A free TCP port on 127.0.0.1 (and the next one). */
async function freePort(): Promise<number> {
  for (;;) {
    const p = 20_000 + Math.floor(Math.random() * 20_000);
    const ok = await Promise.all(
      [p, p + 1].map(
        (port) =>
          new Promise<boolean>((resolve) => {
            const srv = createServer();
            srv.once('error', () => resolve(false));
            srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
          }),
      ),
    );
    if (ok.every(Boolean)) return p;
  }
}

describe('lab supervise', () => {
  test('a killed service is started again: its restart, when it was ready again, and its log goes on', async () => {
    const s = await supervise({ command: ['sh', '-c', 'echo "run $LAB_SERVICE_NAME $LAB_SERVICE_INDEX"; sleep 0.2; echo "listening now"; exec sleep 1000'], ready: { log: '^listening now$' } });
    const first = await readyStatus(s);
    assert.equal(first.instances[0]!.starts, 1);
    const pid = first.instances[0]!.pid!;
    assert.equal(typeof first.instances[0]!.startTime, 'number', 'its start time, to signal it safely');
    const t0 = Date.now();
    process.kill(pid, 'SIGKILL');
    const second = await until('a restart that got ready', async () => {
      const st = await s.status();
      return st.state === 'ready' && st.instances[0]!.restarts === 1 ? st : null;
    });
    const inst = second.instances[0]!;
    assert.notEqual(inst.pid, pid);
    assert.equal(inst.starts, 2);
    assert.deepEqual({ code: inst.lastExit?.code, signal: inst.lastExit?.signal }, { code: null, signal: 'SIGKILL' });
    const ev = second.history[0]!;
    assert.equal(ev.signal, 'SIGKILL');
    assert.ok(ev.restartedAt && ev.readyAt, 'when it came back and when it was ready');
    assert.ok(ev.recoveryMs! >= 200 && ev.recoveryMs! < Date.now() - t0 + 100, `time to recover ${ev.recoveryMs} ms`);
    const log = await s.log();
    assert.equal(log.match(/^run svc 0$/gm)?.length, 2, 'the log has both runs');
    assert.match(log, new RegExp(`^${SUPERVISOR_LINE} \\S+ svc: killed by SIGKILL after [\\d.]+ s; restarting in \\d+ ms$`, 'm'));
    assert.match(log, /svc: ready: log line "listening now" \(\d+ ms after it exited\)/);
    await stopped(s);
    assert.equal((await s.status()).state, 'stopped');
  });

  test('ready when the port accepts connections; several instances: a log each, port + index, LAB_SERVICE_INDEX', async () => {
    const port = await freePort();
    const server = `require('net').createServer().listen(+process.env.LAB_SERVICE_PORT, '127.0.0.1', () => console.log('instance', process.env.LAB_SERVICE_INDEX, 'on', process.env.LAB_SERVICE_PORT))`;
    const s = await supervise({ command: [process.execPath, '-e', server], count: 2, ready: { port, addresses: ['127.0.0.1'] } });
    const st = await readyStatus(s);
    assert.deepEqual(st.instances.map((i) => [i.index, i.state, i.logFile]), [
      [0, 'ready', instanceLogFile(s.spec.logFile, 2, 0)],
      [1, 'ready', instanceLogFile(s.spec.logFile, 2, 1)],
    ]);
    assert.match(await s.log(st.instances[1]!.logFile), new RegExp(`^instance 1 on ${port + 1}$`, 'm'));
    assert.match(await s.log(), new RegExp(`svc#0: ready: port ${port} accepts connections`));
    await stopped(s);
  });

  test('a command that exits at once: restarted maxRestarts times, then given up on (exit 1, why in the status)', async () => {
    const s = await supervise({ command: ['sh', '-c', 'echo "cannot open /etc/missing.conf" >&2; exit 3'], maxRestarts: 2 });
    assert.equal(await s.done, 1);
    const st = await s.status();
    assert.equal(st.state, 'failed');
    assert.equal(st.instances[0]!.restarts, 2);
    assert.equal(st.instances[0]!.starts, 3);
    assert.equal(st.instances[0]!.lastExit?.code, 3);
    assert.match(st.reason ?? '', /exited with code 3 after [\d.]+ s before it was ready, 3 times in a row: gave up after 2 restarts \(maxRestarts 2\)/);
    assert.equal((await s.log()).match(/^cannot open \/etc\/missing\.conf$/gm)?.length, 3);
    assert.deepEqual(await findByToken(s.token), []);
  });

  test('a command that is not there: code 127, given up on', async () => {
    const s = await supervise({ command: ['/nonexistent/lab-test-program'], maxRestarts: 1 });
    assert.equal(await s.done, 1);
    const st = await s.status();
    assert.equal(st.instances[0]!.lastExit?.code, 127);
    assert.match(await s.log(), /cannot start \/nonexistent\/lab-test-program: command not found/);
  });

  test('restart never: an exit ends it; on-failure: a clean exit is not restarted, a failure is', async () => {
    const never = await supervise({ command: ['sh', '-c', 'sleep 0.5; exit 0'], restart: 'never' });
    assert.equal(await never.done, 0);
    assert.equal((await never.status()).state, 'exited');
    const clean = await supervise({ command: ['sh', '-c', 'sleep 0.5; exit 0'], restart: 'on-failure' });
    assert.equal(await clean.done, 0);
    assert.equal((await clean.status()).instances[0]!.restarts, 0);
    const failing = await supervise({ command: ['sh', '-c', 'sleep 0.5; exit 4'], restart: 'on-failure', maxRestarts: 5 });
    const st = await until('two restarts', async () => ((await failing.status()).instances[0]!.restarts >= 2 ? failing.status() : null));
    assert.equal(st.instances[0]!.lastExit?.code, 4);
    await stopped(failing);
  });

  test('what a killed run left running is stopped before the next run starts', async () => {
    // the service's own child outlives it when it is killed with -9 (as RabbitMQ's Erlang VM outlives its script)
    const s = await supervise({ command: ['sh', '-c', 'sleep 1000 & echo "child $!"; wait'] });
    const st = await readyStatus(s);
    const orphan = Number(/^child (\d+)$/m.exec(await s.log())![1]);
    assert.ok(alive(orphan));
    process.kill(st.instances[0]!.pid!, 'SIGKILL');
    await until('the restart', async () => (await s.status()).instances[0]!.restarts === 1);
    assert.equal(alive(orphan), false, 'the first run\'s child was stopped');
    assert.match(await s.log(), new RegExp(`stopping what the ended run left running: pid ${orphan}`));
    await stopped(s);
  });

  test('SIGTERM stops the service and what it started in a session of its own, then the supervisor', async () => {
    const s = await supervise({ command: ['sh', '-c', 'setsid sleep 1000 & exec sleep 1000'] });
    await readyStatus(s);
    assert.equal((await findByToken(s.token)).length, 3, 'the supervisor, the service and its daemon carry the token');
    await stopped(s);
    assert.equal(alive(s.pid), false);
  });
});
