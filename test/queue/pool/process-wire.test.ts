import test from 'node:test';
import assert from 'node:assert/strict';
import { buildTaskMessage } from '../../../lab/queue/protocol.js';
import { FrameReader, decodeJob, decodeResult, encodeJobs, encodeResults } from '../../../lab/queue/pool/process-wire.js';
import type { JobResult } from '../../../lab/queue/pool/process-wire.js';
import type { Job, JobOutcome } from '../../../lab/queue/pool/job.js';

function job(seq: number, body: Uint8Array): Job {
  return {
    seq,
    task: 't',
    body,
    contentType: 'application/json',
    request: { id: `i${seq}`, task: 't', retries: 0, eta: null, expires: '2030-01-01T00:00:00+00:00', group: null, groupIndex: null, rootId: 'r', parentId: null, hostname: 'h', deliveryInfo: { queue: 'q', redelivered: true } },
    softTimeLimit: 1.5,
    hardTimeLimit: null,
  };
}

/** The stream cut into reads of `size` bytes, as a pipe may deliver it. */
function readInPieces(bytes: Buffer, size: number): { head: unknown; payload: Buffer }[] {
  const reader = new FrameReader();
  const frames = [];
  for (let at = 0; at < bytes.length; at += size) frames.push(...reader.push(bytes.subarray(at, at + size)));
  return frames;
}

test('jobs cross byte for byte — ASCII, UTF-8, malformed UTF-8, msgpack, empty and 1.7 MB bodies — however the pipe cuts the stream', () => {
  const bodies = [
    buildTaskMessage('t', { args: [1, 'two'] }).body,
    buildTaskMessage('t', { args: ['héllo € 😀'] }).body,
    Buffer.from([0x5b, 0xc3, 0x28, 0x5d]),
    buildTaskMessage('t', { args: [{ k: 'é' }], serializer: 'msgpack' }).body,
    Buffer.alloc(0),
    buildTaskMessage('t', { args: [Array.from({ length: 250_000 }, (_, i) => (i * 7919) % 1_000_003)] }).body,
  ];
  const jobs = bodies.map((b, i) => job(i + 1, b));
  const stream = Buffer.concat([encodeJobs(jobs.slice(0, 2)), encodeJobs(jobs.slice(2))]);
  for (const size of [1, 7, 4096, 65_536, stream.length]) {
    if (size === 1 && stream.length > 100_000) {
      // one byte at a time through the 1.7 MB body would take minutes; the small jobs alone do it
      const small = encodeJobs(jobs.slice(0, 5));
      assert.deepEqual(readInPieces(small, 1).map((f) => decodeJob(f.head, f.payload)), jobs.slice(0, 5).map((j) => ({ ...j, body: Buffer.from(j.body) })));
      continue;
    }
    const back = readInPieces(stream, size).map((f) => decodeJob(f.head, f.payload));
    assert.deepEqual(back, jobs.map((j) => ({ ...j, body: Buffer.from(j.body) })), `reads of ${size} bytes`);
  }
});

test('results cross as they were: JSON values (large ones too) and msgpack as bytes, failures and the rest in the head', () => {
  const outcomes: JobOutcome[] = [
    { kind: 'success', resultJson: '"é"', runtimeMs: 1, embed: null, repr: "'é'" },
    { kind: 'success', resultJson: JSON.stringify(Array.from({ length: 100_000 }, (_, i) => i)), runtimeMs: 9, embed: { callbacks: null, errbacks: null, chain: null, chord: null } },
    { kind: 'success', resultJson: '', resultMsgpack: Uint8Array.from([0x92, 0x01, 0xa1, 0x61]), runtimeMs: 1, embed: null, repr: "[1, 'a']" },
    { kind: 'failure', exc: { exc_type: 'ValueError', exc_message: ['bad'], exc_module: 'builtins' }, traceback: 'tb', runtimeMs: 2, embed: null },
    { kind: 'retry', exc: null, countdown: 3, eta: null, runtimeMs: 1 },
    { kind: 'lost', exc: { exc_type: 'WorkerLostError', exc_message: ['x'], exc_module: 'billiard.exceptions' }, runtimeMs: 0 },
    { kind: 'expired', runtimeMs: 0 },
  ];
  const results: JobResult[] = outcomes.map((outcome, i) => ({ seq: i, outcome }));
  const back = readInPieces(encodeResults(results), 65_536).map((f) => decodeResult(f.head, f.payload));
  assert.equal(back.length, results.length);
  back.forEach((r, i) => {
    assert.equal(r.seq, i);
    const o = r.outcome;
    if (o.kind === 'success' && o.resultMsgpack) assert.deepEqual({ ...o, resultMsgpack: [...o.resultMsgpack] }, { ...outcomes[i], resultMsgpack: [0x92, 0x01, 0xa1, 0x61] });
    else assert.deepEqual(o, outcomes[i]);
  });
});

test('a result whose embed JSON cannot carry (a msgpack body’s dates, bytes, NaN) crosses with its head in msgpack, values intact', () => {
  const when = new Date('2026-12-02T10:00:00.000Z');
  const embed = { callbacks: [{ task: 'next', args: [when, Uint8Array.from([1, 2, 255]), NaN, Infinity], kwargs: {}, options: {}, subtask_type: null, immutable: false }], errbacks: null, chain: null, chord: null };
  const success: JobOutcome = { kind: 'success', resultJson: '[1]', runtimeMs: 1, embed, repr: '[1]' };
  const outcomes: JobOutcome[] = [
    success,
    { kind: 'failure', exc: { exc_type: 'ValueError', exc_message: ['bad'], exc_module: 'builtins' }, traceback: null, runtimeMs: 2, embed },
  ];
  const bytes = encodeResults(outcomes.map((outcome, seq) => ({ seq, outcome })));
  assert.ok(bytes.readUInt32LE(0) & 0x8000_0000, 'the head is msgpack');
  const back = readInPieces(bytes, 100).map((f) => decodeResult(f.head, f.payload));
  back.forEach((r, i) => {
    const args = (r.outcome as { embed: typeof embed }).embed.callbacks[0].args;
    assert.ok(args[0] instanceof Date && args[0].getTime() === when.getTime(), 'a date stays a date');
    assert.deepEqual([...(args[1] as Uint8Array)], [1, 2, 255], 'bytes stay bytes');
    assert.ok(Number.isNaN(args[2]) && args[3] === Infinity, 'NaN and Infinity stay numbers');
    assert.deepEqual({ ...r.outcome, embed: null }, { ...outcomes[i], embed: null });
  });
  // JSON-safe embeds keep the JSON head
  assert.equal(encodeResults([{ seq: 0, outcome: { ...success, embed: { callbacks: null, errbacks: null, chain: null, chord: null } } }]).readUInt32LE(0) & 0x8000_0000, 0);
});
