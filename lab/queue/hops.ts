/**
 * Where a task's time goes between this runtime's processes (issue 13: an echo's latency is mostly hops, not CPU).
 * Each point a task passes in a worker publishes its id on one diagnostics channel. Nothing subscribes in a normal
 * run — a publish is then one flag check — and bench/echo-trace loads a subscriber into a worker (node --import,
 * which forked pool children inherit) that timestamps every point.
 */
import { channel } from 'node:diagnostics_channel';

/**
 * In order: the worker accepted the message (one with an ETA: on arrival, before its wait); the pool wrote it to a
 * child; the child read it; the child has the outcome; the worker read the outcome; the worker has it (every pool);
 * the result store answered (a success whose result is kept).
 */
export const HOPS = ['received', 'to-child', 'in-child', 'child-ran', 'from-child', 'ran', 'stored'] as const;
export type Hop = (typeof HOPS)[number];

export interface HopEvent {
  hop: Hop;
  /** The task's id. */
  id: string;
}

export const HOPS_CHANNEL = 'lab:queue:hops';
const hops = channel(HOPS_CHANNEL);

export function hop(name: Hop, id: string): void {
  if (hops.hasSubscribers) hops.publish({ hop: name, id } satisfies HopEvent);
}
