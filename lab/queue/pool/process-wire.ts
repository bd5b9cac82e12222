/**
 * How jobs and results cross to a forked pool child and back: length-prefixed frames on a pipe of their own, each a
 * small JSON head and the raw bytes (a job's body, a result's JSON or msgpack). Node's IPC channel costs more than
 * the task for a small job — 'advanced' (V8's serializer) 42 µs of CPU per message on each side here, and a busy
 * child sends one per task (issue 13) — while its 'json' mode, at 16 µs, carries text only and takes 2–3 times as
 * long for a 1.7 MB mergesort chunk. A frame is one write, a JSON.parse of the head and the bytes as they came.
 */
import { utf8Text } from '../utf8-text.js';
import type { Job, JobOutcome } from './job.js';

/**
 * A forked child's pipe for jobs and results: the fd after stdin, stdout and stderr. Node's IPC channel beside it
 * carries the rest (ready, fatal, shutdown) and tells the child when the parent is gone.
 */
export const PROCESS_DATA_FD = 3;

/** [u32 head length][u32 payload length][head: JSON, UTF-8][payload] */
const PREFIX = 8;

/** Frames, one after another, in one buffer: one write, however many. */
function frames(parts: readonly { head: unknown; payload: Uint8Array | null }[]): Buffer {
  const heads = parts.map((p) => JSON.stringify(p.head));
  let size = 0;
  parts.forEach((p, i) => (size += PREFIX + Buffer.byteLength(heads[i], 'utf8') + (p.payload?.byteLength ?? 0)));
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  parts.forEach((p, i) => {
    const headLength = out.write(heads[i], at + PREFIX, 'utf8');
    const payloadLength = p.payload?.byteLength ?? 0;
    out.writeUInt32LE(headLength, at);
    out.writeUInt32LE(payloadLength, at + 4);
    at += PREFIX + headLength;
    if (p.payload) out.set(p.payload, at);
    at += payloadLength;
  });
  return out;
}

/** Cuts a byte stream into frames; a frame that spans reads is joined once, when all of it is here. */
export class FrameReader {
  private chunks: Buffer[] = [];
  private buffered = 0;

  push(chunk: Buffer): { head: unknown; payload: Buffer }[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const frames: { head: unknown; payload: Buffer }[] = [];
    while (this.buffered >= PREFIX) {
      const first = this.contiguous(PREFIX);
      const headLength = first.readUInt32LE(0);
      const end = PREFIX + headLength + first.readUInt32LE(4);
      if (this.buffered < end) break;
      const bytes = this.contiguous(end);
      frames.push({ head: JSON.parse(bytes.toString('utf8', PREFIX, PREFIX + headLength)), payload: bytes.subarray(PREFIX + headLength, end) });
      this.chunks[0] = bytes.subarray(end);
      if (this.chunks[0].length === 0) this.chunks.shift();
      this.buffered -= end;
    }
    return frames;
  }

  /** The first `n` buffered bytes in one buffer (joining reads only when they span more than one). */
  private contiguous(n: number): Buffer {
    if (this.chunks[0].length < n) this.chunks = [Buffer.concat(this.chunks, this.buffered)];
    return this.chunks[0];
  }
}

type JobHead = Omit<Job, 'body'>;

export function encodeJobs(jobs: readonly Job[]): Buffer {
  return frames(
    jobs.map((job) => {
      const { body, ...head } = job;
      return { head, payload: body };
    }),
  );
}

export function decodeJob(head: unknown, payload: Buffer): Job {
  return { ...(head as JobHead), body: payload };
}

export interface JobResult {
  seq: number;
  outcome: JobOutcome;
}

type Success = Extract<JobOutcome, { kind: 'success' }>;
/** A result's head: a success's value is the payload (`value`: which encoding), not in the head. */
type ResultHead = { seq: number; outcome: JobOutcome; value?: 'json' | 'msgpack' };

export function encodeResults(results: readonly JobResult[]): Buffer {
  return frames(
    results.map(({ seq, outcome }) => {
      if (outcome.kind !== 'success') return { head: { seq, outcome } satisfies ResultHead, payload: null };
      const { resultJson, resultMsgpack, ...rest } = outcome;
      const head: ResultHead = { seq, outcome: { ...rest, resultJson: '' }, value: resultMsgpack ? 'msgpack' : 'json' };
      return { head, payload: resultMsgpack ?? Buffer.from(resultJson, 'utf8') };
    }),
  );
}

export function decodeResult(head: unknown, payload: Buffer): JobResult {
  const { seq, outcome, value } = head as ResultHead;
  if (outcome.kind !== 'success' || !value) return { seq, outcome };
  const success: Success = value === 'msgpack' ? { ...outcome, resultMsgpack: payload } : { ...outcome, resultJson: utf8Text(payload) };
  return { seq, outcome: success };
}
