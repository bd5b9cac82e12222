import test from 'node:test';
import assert from 'node:assert/strict';
import { LamportClock } from '../../../lab/queue/control/lamport-clock.js';

test("Lamport clock: forward on send, max+1 on receipt (kombu's)", () => {
  const c = new LamportClock();
  assert.equal(c.forward(), 1);
  assert.equal(c.adjust(10), 11);
  assert.equal(c.adjust(3), 12);
  assert.equal(c.adjust('junk'), 13);
  assert.equal(c.value, 13);
});
