/**
 * `lab run` on a provisioned lab: the driver runs on the master host (inside its namespace, over SSH, in its
 * container) as `lab run … --json --in-lab <descriptor>`, against the lab's broker, backend and workers. Its run
 * record comes back on stdout and is returned; the caller writes it to reports/ and renders it like any other run.
 */
import { Writable } from 'node:stream';
import { maskUrl, RunError } from '../errors.js';
import { defaultConfig } from '../queue/index.js';
import type { LabInfo, RunRecord } from '../report/run-record.js';
import { brokerKind, redisPersistence } from '../topology/state.js';
import { linksOf } from '../topology/topology.js';
import { labEnv } from '../orchestrator/lab-ref.js';
import type { OpenLab } from '../orchestrator/lab-ref.js';
import type { AnyScenario } from '../../scenarios/scenario.js';
import { encodeDescriptor } from './in-lab-session.js';
import type { InLabPeers } from './in-lab-session.js';

export function labInfoOf(lab: OpenLab): LabInfo {
  const { topology, state, urls } = lab;
  const workers = topology.roleHosts('workers');
  return {
    kind: topology.provider,
    name: state.lab,
    hosts: topology.hosts.map((h) => ({ name: h.name, address: h.address, roles: [...h.roles] })),
    broker: { kind: brokerKind(state), url: maskUrl(urls.brokerInLab), version: brokerKind(state) === 'redis' ? state.versions?.redis : state.versions?.rabbitmq, host: state.services.broker.host },
    backend: { kind: 'redis', url: maskUrl(urls.backendInLab), version: state.versions?.redis, host: state.services.backend.host, persistence: redisPersistence(state) },
    workers: { pool: workers[0]?.pool ?? 'prefork', concurrency: workers.reduce((n, h) => n + h.concurrency, 0), prefetchMultiplier: defaultConfig().workerPrefetchMultiplier, hosts: workers.map((h) => h.name) },
    serializer: 'json',
    links: linksOf(topology),
  };
}

export interface RunOnLabOptions {
  lab: OpenLab;
  scenario: AnyScenario;
  raw: Record<string, unknown>;
  passThrough: string[];
  /** Aborted = stop the run on the master host (SIGINT, as Ctrl-C would). */
  signal: AbortSignal;
  /** Where the remote run's own messages go (its progress and errors). */
  stderr: NodeJS.WritableStream;
  /** Peer implementations the controller started (peers-on-lab.ts): in the descriptor, nothing secret. */
  peers?: InLabPeers;
  /** More environment for the remote run (secrets: Pyro's HMAC key), beside the lab's URLs. */
  env?: Record<string, string>;
}

export interface RunOnLabResult {
  /** The remote run's record; null when it printed none (its error went to stderr). */
  record: RunRecord | null;
  /** The remote `lab run`'s exit code. */
  exitCode: number;
}

/** The scenario's parameters back into command-line words, as the user gave them. */
function paramWords(scenario: AnyScenario, raw: Record<string, unknown>): string[] {
  const words: string[] = [];
  for (const [name, spec] of Object.entries(scenario.params)) {
    const v = raw[name];
    if (v === undefined || (Array.isArray(v) && v.length === 0)) continue;
    const values = (Array.isArray(v) ? v : [v]).map(String);
    if (spec.positional) words.unshift(...values);
    else for (const x of values) words.push(`--${name}`, x);
  }
  return words;
}

export async function runOnLab(o: RunOnLabOptions): Promise<RunOnLabResult> {
  const { lab, scenario } = o;
  const master = lab.topology.roleHost('master');
  const host = lab.provider.host(master.name);
  const descriptor = encodeDescriptor({ info: labInfoOf(lab), quotesUrl: lab.urls.quotesInLab, ...(o.peers ? { peers: o.peers } : {}) });
  const argv = [host.node, `${host.labRoot}/bin/lab.js`, 'run', scenario.name, ...paramWords(scenario, o.raw), ...o.passThrough, '--json', '--reports', `${host.workDir}/reports`, '--in-lab', descriptor];
  let out = '';
  const stdout = new Writable({
    write(chunk: Buffer, _enc, cb) {
      out += chunk.toString('utf8');
      cb();
    },
  });
  const exitCode = await lab.provider.stream(master.name, argv, { env: { ...labEnv(lab, true), ...o.env }, stdout, stderr: o.stderr, signal: o.signal });
  try {
    return { record: JSON.parse(out) as RunRecord, exitCode };
  } catch {
    if (exitCode === 0) throw new RunError(`the run on ${master.name} printed no run record`);
    return { record: null, exitCode };
  }
}
