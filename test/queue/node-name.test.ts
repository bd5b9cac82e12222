import test from 'node:test';
import assert from 'node:assert/strict';
import { nodeName } from '../../lab/queue/node-name.js';

test("node names as Celery forms them from -n: name@host, a bare host gets celery@, %h %n %d %% expanded", () => {
  const host = 'pi3.lab.example';
  assert.equal(nodeName(undefined, host), 'celery@pi3.lab.example');
  assert.equal(nodeName('w1@%h', host), 'w1@pi3.lab.example');
  assert.equal(nodeName('w1@%n', host), 'w1@pi3');
  assert.equal(nodeName('%n-worker@%d', host), 'pi3-worker@lab.example');
  assert.equal(nodeName('HOST3', host), 'celery@HOST3');
  assert.equal(nodeName('@%h', host), 'celery@pi3.lab.example');
  assert.equal(nodeName('w%%1@x', host), 'w%1@x');
  assert.equal(nodeName('w1@%d', 'plain'), 'w1@plain'); // no domain: the host stands
});
