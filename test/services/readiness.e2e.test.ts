/**
 * Readiness of the lab's services with real processes, on the local provider (every host is this machine, no root):
 * RabbitMQ, Redis, the quote server and the workers are started the way `lab up` starts them and pass their layered
 * checks; a service whose process exits, whose port never opens, or that refuses the lab's credentials fails with a
 * ServiceError (E_NOT_READY) naming the host, the step that failed and the tail of the service's log.
 * One lab for the file (its own ports, state folder and lab name); its ledger is replayed at the end and no process
 * it started may be left.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { TestContext } from 'node:test';
import { LabError, ServiceError } from '../../lab/errors.js';
import { labUrls } from '../../lab/orchestrator/lab-ref.js';
import { findByToken } from '../../lab/providers/local-process.js';
import { LocalProvider } from '../../lab/providers/local.js';
import type { ProcessRef, ProgressEvent } from '../../lab/providers/provider.js';
import { quotesService } from '../../lab/services/quotes-service.js';
import { rabbitmqService } from '../../lab/services/rabbitmq.js';
import { redisService } from '../../lab/services/redis.js';
import { layer, mustExec, waitPort } from '../../lab/services/service.js';
import type { Service, ServiceContext } from '../../lab/services/service.js';
import { workersService } from '../../lab/services/workers.js';
import { parseInventory } from '../../lab/topology/inventory.js';
import { Ledger } from '../../lab/topology/ledger.js';
import { newState } from '../../lab/topology/state.js';
import type { HostSpec } from '../../lab/topology/topology.js';
import { serviceBinaries, tcpOpen } from '../support/prereq.js';
import { closedPort } from '../support/tcp-proxy.js';

/** A free port p on 127.0.0.1 with p + 20000 free too (RabbitMQ's Erlang distribution port). */
async function freePorts(n: number): Promise<number[]> {
  const free = (port: number): Promise<boolean> =>
    new Promise((resolve) => {
      const s = createServer();
      s.once('error', () => resolve(false));
      s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
    });
  const out: number[] = [];
  while (out.length < n) {
    const p = 20_000 + Math.floor(Math.random() * 20_000);
    if (!out.includes(p) && (await free(p)) && (await free(p + 20_000))) out.push(p);
  }
  return out;
}

interface Lab {
  home: string;
  ledger: Ledger;
  provider: LocalProvider;
  ctx: ServiceContext;
  events: ProgressEvent[];
  host(name: string): HostSpec;
}

let labP: Promise<Lab> | null = null;

function theLab(): Promise<Lab> {
  labP ??= (async () => {
    const home = await mkdtemp(join(tmpdir(), 'lab-services-'));
    const [broker, backend, quotes] = await freePorts(3);
    const name = `svc${randomBytes(3).toString('hex')}`;
    const text = [`lab: ${name}`, 'provider: local', `ports: { broker: ${broker}, backend: ${backend}, quotes: ${quotes} }`, 'hosts:', '  HOST1:', '  HOST2:', '  HOST3: { concurrency: 1 }', '  HOST4:', ''].join('\n');
    const topology = await parseInventory(text, join(home, 'hosts.yaml'));
    const stateDir = join(home, name);
    const ledger = await Ledger.open(stateDir);
    const provider = new LocalProvider(topology, stateDir, ledger);
    const state = newState(topology);
    const events: ProgressEvent[] = [];
    const progress = (e: ProgressEvent): void => void events.push(e);
    await provider.up({ state, progress });
    return { home, ledger, provider, events, ctx: { provider, topology, state, urls: labUrls(state, topology), progress }, host: (h) => topology.host(h) as HostSpec };
  })();
  return labP;
}

after(async () => {
  if (!labP) return;
  const lab = await labP;
  const tokens = lab.ledger.entries().flatMap((e) => (typeof e.data.token === 'string' ? [e.data.token] : []));
  // as `lab down` does: the lab's data goes with it, so no long grace
  const failures = await lab.ledger.replayReverse((e) => lab.provider.undo({ ...e, data: { ...e.data, graceMs: 1000 } }));
  assert.deepEqual(failures.map((f) => `${f.entry.key}: ${String(f.error)}`), []);
  for (const token of tokens) assert.deepEqual(await findByToken(token), [], 'no process of the lab is left');
  await rm(lab.home, { recursive: true, force: true });
});

/** Start a service once (later tests reuse it) and check it is ready. */
const started = new Map<string, Promise<ProcessRef>>();
function ensure(lab: Lab, service: Service, host: string): Promise<ProcessRef> {
  let p = started.get(service.name);
  if (!p) {
    p = (async () => {
      const ref = await service.start(lab.ctx, lab.host(host));
      await service.ready(lab.ctx, lab.host(host), ref);
      return ref;
    })();
    started.set(service.name, p);
  }
  return p;
}

/** The failure a readiness check must give: E_NOT_READY, naming host and step, with the log's last lines. */
async function notReady(p: Promise<unknown>, host: string, stepRe: RegExp): Promise<ServiceError> {
  let caught: unknown = null;
  try {
    await p;
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof ServiceError, `expected a ServiceError, got ${String(caught)}`);
  assert.equal(caught.code, 'E_NOT_READY');
  assert.equal(caught.host, host);
  assert.match(caught.message, new RegExp(`^${host}: ${stepRe.source}`));
  return caught;
}

const prereqs = (t: TestContext): Promise<boolean> => serviceBinaries(t);

describe('redis', () => {
  test('ready on a started server: port, then AUTH + PING as the lab; its version', async (t) => {
    if (!(await prereqs(t))) return;
    const lab = await theLab();
    await ensure(lab, redisService, 'HOST2');
    const port = lab.ctx.state.services.backend.port;
    for (const step of [`redis: port ${port}`, 'redis: AUTH + PING']) {
      assert.ok(lab.events.some((e) => e.host === 'HOST2' && e.step === step && e.status === 'done'), step);
    }
    assert.match((await redisService.version!(lab.ctx, lab.host('HOST2'), null)) ?? '', /^\d+\.\d+\.\d+$/);
  });

  test('wrong credentials: not ready at AUTH + PING, the cause an authentication error', async (t) => {
    if (!(await prereqs(t))) return;
    const lab = await theLab();
    const ref = await ensure(lab, redisService, 'HOST2');
    const wrong: ServiceContext = { ...lab.ctx, urls: { ...lab.ctx.urls, backendHere: lab.ctx.urls.backendHere.replace(/:[^:@/]+@/, ':not-the-password@') } };
    const err = await notReady(redisService.ready(wrong, lab.host('HOST2'), ref), 'HOST2', /redis not ready \(AUTH \+ PING\): /);
    assert.ok(err.cause instanceof LabError && err.cause.code === 'E_BACKEND_AUTH', String(err.cause));
    assert.ok(lab.events.some((e) => e.host === 'HOST2' && e.step === 'redis: AUTH + PING' && e.status === 'fail'));
  });
});

describe('rabbitmq', () => {
  test('ready on a started node: port, then an AMQP login as the lab user; its version from the log', async (t) => {
    if (!(await prereqs(t))) return;
    const lab = await theLab();
    const ref = await ensure(lab, rabbitmqService, 'HOST1');
    const port = lab.ctx.state.services.broker.port;
    for (const step of [`rabbitmq: port ${port}`, 'rabbitmq: AMQP login as the lab user']) {
      assert.ok(lab.events.some((e) => e.host === 'HOST1' && e.step === step && e.status === 'done'), step);
    }
    assert.match((await rabbitmqService.version!(lab.ctx, lab.host('HOST1'), ref)) ?? '', /^\d+\.\d+\.\d+$/);
  });
});

describe('quote server', () => {
  test('ready when `lab serve-quotes` listens on the quotes port', async (t) => {
    if (!(await prereqs(t))) return;
    const lab = await theLab();
    await ensure(lab, quotesService, 'HOST4');
    const q = lab.ctx.state.services.quotes;
    const res = await fetch(`http://${q.address}:${q.port}/d/quotes.csv?s=EURUSD=X&f=p&latency_ms=0`);
    assert.equal(res.status, 200);
  });

  test('a port that never opens: not ready after its timeout, with the server log', async (t) => {
    if (!(await prereqs(t))) return;
    const lab = await theLab();
    const ref = await ensure(lab, quotesService, 'HOST4');
    // the server runs, but the lab expects it on a port nothing listens on
    const port = await closedPort();
    const elsewhere: ServiceContext = { ...lab.ctx, state: { ...lab.ctx.state, services: { ...lab.ctx.state.services, quotes: { ...lab.ctx.state.services.quotes, port } } } };
    const err = await notReady(quotesService.ready(elsewhere, lab.host('HOST4'), ref), 'HOST4', new RegExp(`quotes not ready \\(port ${port}\\): 127\\.0\\.0\\.1:${port} did not accept connections within 10 s`));
    assert.match(err.message, new RegExp(`--- last lines of ${ref.logFile.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} on HOST4 ---\n[^]*quote server on http://127\\.0\\.0\\.1:`));
  });
});

describe('workers', () => {
  test('ready when a canary task makes the round trip through the lab broker and backend', async (t) => {
    if (!(await prereqs(t))) return;
    const lab = await theLab();
    await Promise.all([ensure(lab, rabbitmqService, 'HOST1'), ensure(lab, redisService, 'HOST2')]);
    await ensure(lab, workersService, 'HOST3');
    assert.ok(lab.events.some((e) => e.host === 'HOST3' && e.step === 'workers: canary task round trip' && e.status === 'done'));
  });

  test('the worker process exits: not ready at the canary, with the worker log', async (t) => {
    if (!(await prereqs(t))) return;
    const lab = await theLab();
    await Promise.all([ensure(lab, rabbitmqService, 'HOST1'), ensure(lab, redisService, 'HOST2')]);
    const ref = await ensure(lab, workersService, 'HOST3');
    assert.equal(await lab.provider.stop(ref, 5000), 'gone');
    const err = await notReady(workersService.ready(lab.ctx, lab.host('HOST3'), ref), 'HOST3', /workers not ready \(canary task round trip\): the worker process exited/);
    assert.ok(err.cause instanceof LabError && err.cause.code === 'E_PROCESS_EXITED');
    assert.match(err.message, /--- last lines of \S+workers\.log on HOST3 ---\n/);
  });
});

describe('a service whose process exits', () => {
  test('redis killed: not ready at its port, naming host and step, with the tail of its log', async (t) => {
    if (!(await prereqs(t))) return;
    const lab = await theLab();
    const ref = await ensure(lab, redisService, 'HOST2');
    assert.equal(await lab.provider.signal(ref, 'SIGKILL'), 'same');
    const port = lab.ctx.state.services.backend.port;
    // gone, and its port closed: Redis's main thread shows as exited a moment before its last thread closes the socket
    for (let i = 0; i < 100 && ((await lab.provider.alive(ref)) || (await tcpOpen('127.0.0.1', port, 200)) === null); i++) await new Promise((r) => setTimeout(r, 20));
    const err = await notReady(redisService.ready(lab.ctx, lab.host('HOST2'), ref), 'HOST2', new RegExp(`redis not ready \\(port ${port}\\): the process exited before 127\\.0\\.0\\.1:${port} accepted connections`));
    assert.ok(err.cause instanceof LabError && err.cause.code === 'E_PROCESS_EXITED');
    assert.match(err.message, /--- last lines of \S+redis\.log on HOST2 ---\n[^]*Ready to accept connections/);
  });
});

describe('the readiness helpers', () => {
  test('layer + waitPort: a process that runs but never listens fails after the timeout, with its log', async (t) => {
    if (!(await prereqs(t))) return;
    const lab = await theLab();
    const logFile = join(lab.provider.host('HOST4').workDir, 'logs', 'silent.log');
    const ref = await lab.provider.spawn('HOST4', ['sh', '-c', 'echo "starting, but never listening"; exec sleep 60'], { key: 'proc:HOST4:silent', logFile });
    const port = await closedPort();
    const err = await notReady(
      layer(lab.ctx, 'HOST4', 'silent', `port ${port}`, ref, () => waitPort('127.0.0.1', port, 1500, () => lab.provider.alive(ref))),
      'HOST4',
      new RegExp(`silent not ready \\(port ${port}\\): 127\\.0\\.0\\.1:${port} did not accept connections within 2 s \\(ECONNREFUSED\\)`),
    );
    assert.match(err.message, new RegExp(`--- last lines of ${logFile.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} on HOST4 ---\nstarting, but never listening$`));
    assert.ok(lab.events.some((e) => e.host === 'HOST4' && e.step === `silent: port ${port}` && e.status === 'fail'));
    assert.equal(await lab.provider.stop(ref, 1000), 'gone');
  });

  test('mustExec: a setup command that fails is E_SETUP, naming host, command and its stderr', async (t) => {
    if (!(await prereqs(t))) return;
    const lab = await theLab();
    await assert.rejects(mustExec(lab.ctx, 'HOST1', ['sh', '-c', 'echo "no room" >&2; exit 3']), (err: unknown) => {
      assert.ok(err instanceof ServiceError);
      assert.equal(err.code, 'E_SETUP');
      assert.equal(err.message, 'HOST1: sh -c echo "no room" >&2; exit 3 failed (exit 3): no room');
      return true;
    });
  });
});
