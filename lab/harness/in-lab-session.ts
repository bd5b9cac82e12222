/**
 * The session of a run on a provisioned lab, inside the master host: the lab's workers serve the tasks, so this
 * only points the scenario's app at the lab's broker and backend (LAB_BROKER_URL / LAB_BACKEND_URL, set by the
 * orchestrator) and carries the lab's description into the run record.
 */
import { UsageError } from '../errors.js';
import type { App } from '../queue/index.js';
import type { LabInfo } from '../report/run-record.js';
import type { LabSession } from './lab-session.js';
import { noWorkerGroups } from './worker-groups.js';

export interface InLabDescriptor {
  info: LabInfo;
  quotesUrl: string | null;
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
  return {
    info: d.info,
    quotesUrl: d.quotesUrl,
    // Inside the lab there is no provider to start workers with: scenarios that need groups run on the controller.
    workers: noWorkerGroups,
    bind(app: App) {
      app.configFromObject({ broker_url: broker, result_backend: backend });
      apps.add(app);
    },
    async close() {
      await Promise.all([...apps].map((a) => a.close()));
    },
  };
}
