/**
 * How a large JSON result crosses from a worker thread to the worker: as UTF-8 bytes, not as a string. postMessage
 * clones with V8's serializer, which copies a typed array as one block but a string character by character at both
 * ends — about 8 ms each way for a 1.7 MB mergesort chunk here, against under 1 ms for the bytes, and the bytes are
 * moved (transferred), not copied. (A forked child's results cross as raw bytes in frames: process-wire.ts.)
 */
import { utf8Text } from '../utf8-text.js';
import type { JobOutcome } from './job.js';

/** Below this a string clones as fast as anything else; above it the bytes win. */
const BYTES_FROM = 64 * 1024;

export interface ResultOnWire {
  seq: number;
  outcome: JobOutcome;
  /** Set for a large success: its resultJson as UTF-8 (resultJson itself is then empty on the wire). */
  resultBytes?: Uint8Array;
}

/** Child side: a large result's JSON as bytes; its buffer goes in `transfer` (worker threads move it). */
export function packResult(seq: number, outcome: JobOutcome, transfer: ArrayBuffer[]): ResultOnWire {
  if (outcome.kind !== 'success' || outcome.resultJson.length < BYTES_FROM) return { seq, outcome };
  const bytes = Buffer.from(outcome.resultJson, 'utf8');
  // A buffer of its own (never Node's shared pool at this size), so moving it takes nothing else along.
  if (bytes.byteOffset === 0 && bytes.buffer.byteLength === bytes.byteLength) transfer.push(bytes.buffer as ArrayBuffer);
  return { seq, outcome: { ...outcome, resultJson: '' }, resultBytes: bytes };
}

/** Parent side: the outcome as the child made it. */
export function unpackResult(r: ResultOnWire): JobOutcome {
  if (!r.resultBytes || r.outcome.kind !== 'success') return r.outcome;
  return { ...r.outcome, resultJson: utf8Text(r.resultBytes) };
}
