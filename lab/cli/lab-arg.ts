/** Open the lab a command acts on (--hosts, else the active lab), or say clearly that there is none. */
import { UsageError } from '../errors.js';
import { findLab, openLab } from '../orchestrator/lab-ref.js';
import type { OpenLab } from '../orchestrator/lab-ref.js';

export async function requireLab(hosts: string | undefined): Promise<OpenLab> {
  const ref = await findLab(hosts);
  if (!ref) throw new UsageError('no lab is up: bring one up with lab up --hosts hosts.yaml (or name it with --hosts)');
  return openLab(ref);
}

/** The lab's environment for programs on its hosts (inLab) or on this machine: lab's and Celery's variable names. */
export function labEnv(lab: OpenLab, inLab: boolean): Record<string, string> {
  const broker = inLab ? lab.urls.brokerInLab : lab.urls.brokerHere;
  const backend = inLab ? lab.urls.backendInLab : lab.urls.backendHere;
  return {
    LAB_NAME: lab.state.lab,
    LAB_BROKER_URL: broker,
    LAB_BACKEND_URL: backend,
    CELERY_BROKER_URL: broker,
    CELERY_RESULT_BACKEND: backend,
    LAB_QUOTES_URL: inLab ? lab.urls.quotesInLab : lab.urls.quotesHere,
  };
}
