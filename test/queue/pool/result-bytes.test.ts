import test from 'node:test';
import assert from 'node:assert/strict';
import { packResult, unpackResult } from '../../../lab/queue/pool/result-bytes.js';
import type { JobOutcome } from '../../../lab/queue/pool/job.js';

const success = (resultJson: string): JobOutcome => ({ kind: 'success', resultJson, runtimeMs: 1, embed: null, repr: 'r' });

test('a large result travels as its own UTF-8 bytes (moved between threads) and unpacks to the same outcome', () => {
  for (const json of [JSON.stringify(Array.from({ length: 50_000 }, (_, i) => i)), JSON.stringify(['é€😀'.repeat(30_000)])]) {
    const transfer: ArrayBuffer[] = [];
    const wire = packResult(7, success(json), transfer);
    assert.equal(wire.seq, 7);
    assert.ok(wire.resultBytes, 'sent as bytes');
    assert.equal((wire.outcome as { resultJson: string }).resultJson, '', 'no second copy as a string');
    assert.deepEqual(transfer, [wire.resultBytes.buffer]);
    assert.deepEqual(unpackResult(wire), success(json));
  }
});

test('small results and other outcomes go as they are', () => {
  const transfer: ArrayBuffer[] = [];
  const small = success('[1,2,3]');
  assert.deepEqual(packResult(1, small, transfer), { seq: 1, outcome: small });
  const lost: JobOutcome = { kind: 'lost', exc: { exc_type: 'WorkerLostError', exc_message: ['x'], exc_module: 'billiard.exceptions' }, runtimeMs: 0 };
  assert.deepEqual(packResult(2, lost, transfer), { seq: 2, outcome: lost });
  assert.equal(transfer.length, 0);
  assert.equal(unpackResult({ seq: 1, outcome: small }), small);
});
