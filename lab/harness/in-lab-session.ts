/**
 * The session of a run on a provisioned lab, inside the master host: the lab's workers serve the tasks, so this
 * only points the scenario's app at the lab's broker and backend (LAB_BROKER_URL / LAB_BACKEND_URL, set by the
 * orchestrator) and carries the lab's description into the run record. With peer implementations the controller
 * has checked the hosts and started the peers' workers already: the descriptor says how their drivers reach them
 * (queues, the Pyro name server — nothing secret); Pyro's HMAC key comes in the environment (PYRO_HMAC_KEY).
 */
import { join } from 'node:path';
import { UsageError } from '../errors.js';
import { PACKAGE_ROOT } from '../paths.js';
import type { App } from '../queue/index.js';
import type { LabInfo } from '../report/run-record.js';
import type { PeerName } from './implementations.js';
import type { LabSession } from './lab-session.js';
import type { PeerAccess, PeerEndpoint } from './peers.js';
import { noWorkerGroups } from './worker-groups.js';

/** The peers the controller started for this run. */
export interface InLabPeers {
  python: string;
  /** The master host's name (where the drivers run). */
  host: string;
  /** What the controller's preflight found: host → versions. */
  versions: Record<string, Record<string, string>>;
  endpoints: Partial<Record<PeerName, PeerEndpoint>>;
}

export interface InLabDescriptor {
  info: LabInfo;
  quotesUrl: string | null;
  peers?: InLabPeers;
}

export function encodeDescriptor(d: InLabDescriptor): string {
  return Buffer.from(JSON.stringify(d)).toString('base64url');
}

export function decodeDescriptor(text: string): InLabDescriptor {
  try {
    const d = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as InLabDescriptor;
    if (!d.info || typeof d.info.kind !== 'string') throw new Error('no lab info');
    return d;
  } catch (err) {
    throw new UsageError(`--in-lab: not a lab descriptor (${(err as Error).message})`);
  }
}

export function openInLabSession(d: InLabDescriptor): LabSession {
  const broker = process.env.LAB_BROKER_URL;
  const backend = process.env.LAB_BACKEND_URL;
  if (!broker || !backend) throw new UsageError('--in-lab needs LAB_BROKER_URL and LAB_BACKEND_URL in the environment');
  const apps = new Set<App>();
  const p = d.peers;
  const peers: PeerAccess | undefined = p && {
    python: p.python,
    peersDir: join(PACKAGE_ROOT, 'peers'),
    host: p.host,
    // RQ's broker is the lab's Redis.
    env: { RQ_REDIS_URL: backend },
    preflight: async (impls) => {
      const missing = impls.filter((i) => !p.endpoints[i]);
      if (missing.length > 0) throw new UsageError(`--in-lab: the controller started no workers for ${missing.join(', ')}`);
      return p.versions;
    },
    workers: async (impl) => {
      const e = p.endpoints[impl]!;
      const key = process.env.PYRO_HMAC_KEY;
      if (impl === 'pyro' && !key) throw new UsageError('--in-lab: pyro needs PYRO_HMAC_KEY in the environment');
      return impl === 'pyro' ? { ...e, env: { ...e.env, PYRO_HMAC_KEY: key! } } : e;
    },
  };
  return {
    info: d.info,
    quotesUrl: d.quotesUrl,
    // Inside the lab there is no provider to start workers with: scenarios that need groups run on the controller.
    workers: noWorkerGroups,
    peers,
    bind(app: App) {
      app.configFromObject({ broker_url: broker, result_backend: backend });
      apps.add(app);
    },
    async close() {
      await Promise.all([...apps].map((a) => a.close()));
    },
  };
}
