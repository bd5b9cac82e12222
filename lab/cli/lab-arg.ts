/** Open the lab a command acts on (--hosts, else the active lab), or say clearly that there is none. */
import { UsageError } from '../errors.js';
import { findLab, openLab } from '../orchestrator/lab-ref.js';
import type { OpenLab } from '../orchestrator/lab-ref.js';

export async function requireLab(hosts: string | undefined): Promise<OpenLab> {
  const ref = await findLab(hosts);
  if (!ref) throw new UsageError('no lab is up: bring one up with lab up --hosts hosts.yaml (or name it with --hosts)');
  return openLab(ref);
}
