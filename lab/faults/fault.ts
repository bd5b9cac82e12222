/**
 * A fault as data (Jepsen's nemesis, for task queues): what breaks, where, when in the run, for how long. A
 * schedule (schedule.ts) is a list of these; `lab fault` applies one now, `lab run --faults` a list beside the run.
 */
import { LabError } from '../errors.js';
import type { LabErrorCode } from '../errors.js';

export type FaultKind = 'kill' | 'restart' | 'pause' | 'partition' | 'slow';

export const FAULT_KINDS: readonly FaultKind[] = ['kill', 'restart', 'pause', 'partition', 'slow'];

/** Kinds that last (healed at their end); kill and restart are instants (the supervisor brings the service back). */
export const LASTING_KINDS: readonly FaultKind[] = ['pause', 'partition', 'slow'];

/** A service on a host (`workers@HOST3`), or on the host its role puts it (`rabbitmq`: the broker host). */
export interface ServiceTarget {
  service: string;
  /** Absent: every host that runs the service. */
  host?: string;
}

export interface Fault {
  kind: FaultKind;
  /** kill, restart, pause: a service. */
  service?: ServiceTarget;
  /** partition, slow: the host whose links break. */
  host?: string;
  /** partition: the other side. */
  from?: string;
  /** slow: added one-way delay (ms), and optionally a bandwidth cap (bytes/s). */
  delayMs?: number;
  rateBytesPerS?: number;
  /** Start, from the run's start (ms). */
  atMs: number;
  /** How long a lasting fault lasts (ms); absent on a lasting fault = held until `lab fault heal` or `lab down`. */
  forMs?: number;
  /** The text it was parsed from, for messages and records. */
  text: string;
}

/** One fault of a run as it happened: the record's timeline. Times are ISO; ms are from the run's start. */
export interface FaultEvent {
  id: string;
  kind: FaultKind;
  text: string;
  /** What it acted on: pids signalled, the iptables rules, the proxy… in words. */
  applied: string[];
  /** Names the mechanism: signals, iptables, tc-netem, proxy, docker. */
  mechanism: string;
  /** When it was in effect (applied), and when healed — for kill and restart, when the service was back. */
  startedAt: string;
  healedAt: string | null;
  /** When the schedule asked for it, ms from the run's start. */
  atMs: number;
  /** When it was in effect, ms from the run's start. */
  startMs: number;
  endMs: number | null;
  /** A killed or restarted service: when the supervisor had it ready again (ms after the fault). */
  recoveryMs?: number | null;
  error?: string;
}

export class FaultError extends LabError {
  constructor(code: Extract<LabErrorCode, 'E_FAULT_SCHEDULE' | 'E_FAULT_REFUSED' | 'E_FAULT' | 'E_FAULT_HEAL'>, message: string, options: { cause?: unknown } = {}) {
    super(code, message, { exitCode: code === 'E_FAULT_SCHEDULE' || code === 'E_FAULT_REFUSED' ? 2 : 1, cause: options.cause });
  }
}

/** One line for a fault: "pause workers@HOST3 at 3s for 4s". */
export function describeFault(f: Fault): string {
  return f.text;
}
