/**
 * Where the broker and backend are, for commands that talk to them (worker, call, purge):
 * flags, then LAB_BROKER_URL / LAB_BACKEND_URL, then the active lab's state.
 */
import { UsageError } from '../errors.js';
import { findLab } from '../orchestrator/lab-ref.js';
import { backendUrl, brokerUrl, readState } from '../topology/state.js';

export interface Urls {
  broker: string;
  backend: string | null;
}

export async function resolveUrls(flags: { broker?: string; backend?: string }): Promise<Urls> {
  const envBroker = process.env.LAB_BROKER_URL;
  const envBackend = process.env.LAB_BACKEND_URL;
  let broker = flags.broker ?? envBroker;
  let backend = flags.backend ?? envBackend ?? null;
  if (!broker || !backend) {
    const ref = await findLab(undefined);
    const state = ref ? await readState(ref.dir) : null;
    if (state) {
      broker ??= brokerUrl(state, { byAddress: true });
      backend ??= backendUrl(state, { byAddress: true });
    }
  }
  if (!broker) throw new UsageError('no broker: pass --broker amqp://user:pass@HOST1//, set LAB_BROKER_URL, or bring a lab up (lab up --hosts hosts.yaml)');
  return { broker, backend };
}
