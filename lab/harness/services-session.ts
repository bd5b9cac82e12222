/**
 * A run against a broker and a backend that already run (RabbitMQ and Redis given by URL), with the workers in
 * this process: a default worker on the scenario's queue (unless the scenario starts its own groups) and worker
 * groups as in-process Workers. The tests run every scenario this way on real RabbitMQ + Redis; CI pipelines with
 * service containers use the same shape. Peer implementations (`implementations: ['lab', 'celery', …]`) run here
 * too: their workers and drivers as processes on this machine (local-peer-groups.ts), checked before anything starts.
 */
import { execFile } from 'node:child_process';
import { availableParallelism, hostname } from 'node:os';
import { join } from 'node:path';
import { maskUrl } from '../errors.js';
import { PACKAGE_ROOT } from '../paths.js';
import { notFound } from '../providers/local-process.js';
import { generateSecret } from '../topology/state.js';
import { Worker } from '../queue/index.js';
import type { App, PoolKind } from '../queue/index.js';
import { startQuoteServer } from '../services/quote-server.js';
import type { QuoteServer } from '../services/quote-server.js';
import type { AnyScenario } from '../../scenarios/scenario.js';
import { InProcessWorkerGroups } from './in-process-groups.js';
import { isPeer, peerPython } from './implementations.js';
import type { PeerName } from './implementations.js';
import type { LabSession } from './lab-session.js';
import { LocalPeerGroups } from './local-peer-groups.js';
import { preflightPeers } from './peer-preflight.js';
import type { PeerAccess } from './peers.js';

export interface ServicesSessionOptions {
  broker: string;
  backend: string;
  pool?: PoolKind;
  concurrency?: number;
  /** The queue the default worker consumes (default celery). */
  queue?: string;
  /** The implementations the run will use: the peers among them are checked (Python, packages) before anything starts. */
  implementations?: string[];
  /** Worker processes of each peer (default 2). */
  peerConcurrency?: number;
  /** The interpreter for the peers (default: LAB_PYTHON, else /usr/bin/python3). */
  python?: string;
}

function execHere(host: string, argv: string[]): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(argv[0]!, argv.slice(1), { timeout: 60_000 }, (err, stdout, stderr) => {
      const code = (err as { code?: unknown } | null)?.code;
      if (code === 'ENOENT') return reject(notFound(argv[0]!, host));
      resolve({ exitCode: err ? (typeof code === 'number' ? code : 1) : 0, stdout, stderr });
    });
  });
}

export async function openServicesSession(scenario: AnyScenario, o: ServicesSessionOptions): Promise<LabSession> {
  const python = o.python ?? peerPython();
  const host = hostname();
  const peerNames = (o.implementations ?? []).filter(isPeer);
  // Before anything starts: this machine must have the peers' Python and packages.
  const checked = peerNames.length > 0 ? await preflightPeers([{ host, impls: peerNames }], python, execHere, `--impl ${peerNames.join(',')}`) : {};
  const app: App = await scenario.app();
  const urls = { broker_url: o.broker, result_backend: o.backend };
  app.configFromObject(urls);
  const pool = o.pool ?? scenario.embeddedWorker?.pool ?? 'threads';
  const concurrency = o.concurrency ?? scenario.embeddedWorker?.concurrency ?? availableParallelism();
  const worker = scenario.needs?.workerGroups ? null : new Worker(app, { pool, concurrency, include: [scenario.tasksModule], hostname: `celery@${hostname()}`, queues: [o.queue ?? app.config.taskDefaultQueue] });
  const groups = new InProcessWorkerGroups(scenario.tasksModule, urls);
  const apps = new Set<App>([app]);
  let quotes: QuoteServer | null = null;
  try {
    if (scenario.needs?.quotes) {
      quotes = await startQuoteServer();
      process.env.LAB_QUOTES_URL = quotes.template;
    }
    await worker?.start();
  } catch (err) {
    await Promise.all([worker?.stop({ warm: false }).catch(() => undefined), quotes?.close(), app.close().catch(() => undefined)]);
    throw err;
  }
  const peerGroups = new LocalPeerGroups({
    python,
    peersDir: join(PACKAGE_ROOT, 'peers'),
    host: { name: host, address: '127.0.0.1' },
    concurrency: o.peerConcurrency ?? 2,
    brokerUrl: o.broker,
    backendUrl: o.backend,
    quotesUrl: () => quotes?.template ?? null,
    pyroKey: generateSecret(),
  });
  const peers: PeerAccess = {
    python,
    peersDir: join(PACKAGE_ROOT, 'peers'),
    host,
    env: { LAB_BROKER_URL: o.broker, LAB_BACKEND_URL: o.backend, RQ_REDIS_URL: o.backend, ...(quotes ? { LAB_QUOTES_URL: quotes.template } : {}) },
    preflight: async (impls: PeerName[]) => (impls.every((i) => peerNames.includes(i)) ? checked : preflightPeers([{ host, impls }], python, execHere, `--impl ${impls.join(',')}`)),
    workers: async (impl: PeerName) => {
      const e = await peerGroups.start(impl);
      // Pyro's driver needs the key its name server and workers were given.
      return impl === 'pyro' ? { ...e, env: { ...e.env, PYRO_HMAC_KEY: peerGroups.pyroKey } } : e;
    },
  };
  return {
    info: {
      kind: 'services',
      name: 'services',
      hosts: [{ name: host, roles: ['workers', 'master', ...(quotes ? ['quotes'] : [])] }],
      broker: { kind: o.broker.split(':')[0]!, url: maskUrl(o.broker) },
      backend: { kind: o.backend.split(':')[0]!, url: maskUrl(o.backend) },
      workers: worker ? { pool, concurrency, prefetchMultiplier: app.config.workerPrefetchMultiplier, hosts: [host] } : { pool: 'none', concurrency: 0, prefetchMultiplier: app.config.workerPrefetchMultiplier, hosts: [] },
      serializer: 'json',
    },
    quotesUrl: quotes?.template ?? null,
    workers: groups,
    peers,
    bind(other: App) {
      other.configFromObject(urls);
      apps.add(other);
    },
    async close({ cold = false } = {}) {
      try {
        await Promise.all([worker?.stop({ warm: !cold }), groups.stopAll({ cold }), peerGroups.stopAll({ cold }), quotes?.close()]);
      } finally {
        if (quotes && process.env.LAB_QUOTES_URL === quotes.template) delete process.env.LAB_QUOTES_URL;
        await Promise.all([...apps].map((a) => a.close().catch(() => undefined)));
      }
    },
  };
}
