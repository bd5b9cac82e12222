import type { App } from '../queue/index.js';
import type { LabInfo } from '../report/run-record.js';
import type { PeerAccess } from './peers.js';
import type { WorkerGroups } from './worker-groups.js';
import type { HostFiles } from './host-files.js';

/**
 * A lab a scenario runs on, seen from the master: where its broker and backend are, what serves the tasks,
 * and the quote server. The embedded lab makes all of it in this process; a provisioned lab reads it from its state.
 */
export interface LabSession {
  readonly info: LabInfo;
  /** URL template of the quote server, or null when the lab runs none. */
  readonly quotesUrl: string | null;
  /** Workers a scenario starts for one run (lessons, implementations). */
  readonly workers: WorkerGroups;
  /** Peer implementations (--impl celery,rq,pyro) on this lab; absent where Python cannot reach it (the embedded lab). */
  readonly peers?: PeerAccess;
  /** Files on the workers hosts (the controller and the embedded lab; absent for a driver inside the lab). */
  readonly files?: HostFiles;
  /** Point an app at this lab's broker and result backend. */
  bind(app: App): void;
  /** Stop what the session started. cold = do not wait for running tasks (Ctrl-C). */
  close(options?: { cold?: boolean }): Promise<void>;
}
