/**
 * How jobs and results cross to a forked pool child and back: length-prefixed frames on a pipe of their own, each a
 * small JSON head and the raw bytes (a job's body, a result's JSON or msgpack). Node's IPC channel costs more than
 * the task for a small job — 'advanced' (V8's serializer) 42 µs of CPU per message on each side here, and a busy
 * child sends one per task (issue 13) — while its 'json' mode, at 16 µs, carries text only and takes about twice as
 * long for a 1.7 MB mergesort chunk. A frame is one write, a JSON.parse of the head and the bytes as they came (a head
 * JSON cannot carry goes as msgpack).
 */
import type { Readable } from 'node:stream';
import { decodeMsgpack, encodeMsgpack } from '../msgpack-codec.js';
import { utf8Text } from '../utf8-text.js';
import type { Job, JobOutcome } from './job.js';

/**
 * A forked child's pipe for jobs and results: the fd after stdin, stdout and stderr. Node's IPC channel beside it
 * carries the rest (ready, fatal, shutdown) and tells the child when the parent is gone.
 */
export const PROCESS_DATA_FD = 3;

/**
 * [u32 head length][u32 payload length][head][payload]. The head is JSON (UTF-8), or msgpack when the length's top bit
 * is set: for a head that holds what JSON cannot (a msgpack body's embed may carry dates, bytes, NaN).
 */
const PREFIX = 8;
const MSGPACK_HEAD = 0x8000_0000;

interface Part {
  head: unknown;
  payload: Uint8Array | null;
  /** The head as msgpack. */
  binary?: boolean;
}

/** Frames, one after another, in one buffer: one write, however many. */
function frames(parts: readonly Part[]): Buffer {
  const heads = parts.map((p) => (p.binary ? encodeMsgpack(p.head) : JSON.stringify(p.head)));
  let size = 0;
  parts.forEach((p, i) => {
    const head = heads[i];
    size += PREFIX + (typeof head === 'string' ? Buffer.byteLength(head, 'utf8') : head.byteLength) + (p.payload?.byteLength ?? 0);
  });
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  parts.forEach((p, i) => {
    const head = heads[i];
    const headLength = typeof head === 'string' ? out.write(head, at + PREFIX, 'utf8') : (out.set(head, at + PREFIX), head.byteLength);
    const payloadLength = p.payload?.byteLength ?? 0;
    out.writeUInt32LE(typeof head === 'string' ? headLength : headLength + MSGPACK_HEAD, at);
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
      const word = first.readUInt32LE(0);
      const headLength = word & ~MSGPACK_HEAD;
      const end = PREFIX + headLength + first.readUInt32LE(4);
      if (this.buffered < end) break;
      const bytes = this.contiguous(end);
      const head = word & MSGPACK_HEAD ? decodeMsgpack(bytes.subarray(PREFIX, PREFIX + headLength)) : JSON.parse(bytes.toString('utf8', PREFIX, PREFIX + headLength));
      frames.push({ head, payload: bytes.subarray(PREFIX + headLength, end) });
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

/** The frames a stream brings, decoded, a batch per read. */
export function onFrames<T>(stream: Readable, decode: (head: unknown, payload: Buffer) => T, handler: (batch: T[]) => void): void {
  const reader = new FrameReader();
  stream.on('data', (chunk: Buffer) => {
    const frames = reader.push(chunk);
    if (frames.length) handler(frames.map((f) => decode(f.head, f.payload)));
  });
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
  // The head is a fresh object of this frame's own: completed in place, not copied (a child's cold path, issue 13).
  const job = head as JobHead & { body?: Uint8Array };
  job.body = payload;
  return job as Job;
}

export interface JobResult {
  seq: number;
  outcome: JobOutcome;
}

type Success = Extract<JobOutcome, { kind: 'success' }>;
/** A result's head: a success's value is the payload (`value`: which encoding), not in the head. */
type ResultHead = { seq: number; outcome: JobOutcome; value?: 'json' | 'msgpack' };

/** Would JSON carry this as it is? (What a decoded body's embed holds: JSON's values, or msgpack's beyond them.) */
function jsonSafe(v: unknown): boolean {
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return true;
  if (typeof v === 'number') return Number.isFinite(v);
  if (Array.isArray(v)) return v.every(jsonSafe);
  if (typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) return Object.values(v as object).every(jsonSafe);
  return false;
}

export function encodeResults(results: readonly JobResult[]): Buffer {
  return frames(
    results.map(({ seq, outcome }): Part => {
      const binary = 'embed' in outcome && outcome.embed !== null && !jsonSafe(outcome.embed);
      if (outcome.kind !== 'success') return { head: { seq, outcome } satisfies ResultHead, payload: null, binary };
      const { resultJson, resultMsgpack, ...rest } = outcome;
      const head: ResultHead = { seq, outcome: { ...rest, resultJson: '' }, value: resultMsgpack ? 'msgpack' : 'json' };
      return { head, payload: resultMsgpack ?? Buffer.from(resultJson, 'utf8'), binary };
    }),
  );
}

export function decodeResult(head: unknown, payload: Buffer): JobResult {
  const { seq, outcome, value } = head as ResultHead;
  if (outcome.kind !== 'success' || !value) return { seq, outcome };
  // In place, as decodeJob.
  const success = outcome as Success;
  if (value === 'msgpack') success.resultMsgpack = payload;
  else success.resultJson = utf8Text(payload);
  return { seq, outcome: success };
}
