/** The AMQP error mapping, on errors shaped like amqplib's (no server needed). */
import test from 'node:test';
import assert from 'node:assert/strict';
import { BrokerError } from '../../../lab/queue/errors.js';
import { amqpCode, codeFor, connectError, isConnectionLoss, operationError, reasonOf, vhostOf } from '../../../lab/queue/brokers/amqp-errors.js';

/** An error as amqplib throws a server's channel close: the reply code on `code`, the reason in the message. */
function serverClose(code: number, name: string, reason: string): Error & { code: number } {
  return Object.assign(new Error(`Operation failed: QueueDeclare; ${code} (${name}) with message "${reason}"`), { code });
}

const URL_SHOWN = 'amqp://guest:****@HOST1:5672/';

test('amqp errors: the reply code from `code` or from the message text; the server reason kept', () => {
  const e = serverClose(406, 'PRECONDITION-FAILED', "PRECONDITION_FAILED - inequivalent arg 'x-max-priority'");
  assert.equal(amqpCode(e), 406);
  assert.equal(amqpCode(new Error('Channel closed by server: 404 (NOT-FOUND) with message "NOT_FOUND - no queue \'q\'"')), 404);
  assert.equal(amqpCode(new Error('read ECONNRESET')), null);
  assert.equal(amqpCode('not an error'), null);
  assert.equal(reasonOf(e), "PRECONDITION_FAILED - inequivalent arg 'x-max-priority'");
  assert.equal(reasonOf(new Error('line one\n  line two')), 'line one line two');
});

test('amqp errors: reply codes map to the codes callers branch on', () => {
  assert.equal(codeFor(406), 'E_BROKER_PRECONDITION');
  assert.equal(codeFor(404), 'E_BROKER_NOT_FOUND');
  assert.equal(codeFor(403), 'E_BROKER_ACCESS');
  assert.equal(codeFor(541), 'E_BROKER');
  assert.equal(codeFor(null), 'E_BROKER');
});

test('amqp errors: a lost connection is told apart from an answer of the broker', () => {
  for (const message of ['Channel ended, no reply will be forthcoming', 'Connection closed: 320 (CONNECTION-FORCED)', 'read ECONNRESET', 'write EPIPE', 'Socket closed abruptly']) {
    assert.equal(isConnectionLoss(new Error(message)), true, message);
  }
  assert.equal(isConnectionLoss(serverClose(320, 'CONNECTION-FORCED', 'CONNECTION_FORCED - broker forced connection closure')), true);
  assert.equal(isConnectionLoss(serverClose(404, 'NOT-FOUND', 'NOT_FOUND - no queue')), false, 'the broker answered');
  assert.equal(isConnectionLoss(serverClose(406, 'PRECONDITION-FAILED', 'Channel closed')), false, 'an answer, whatever its text');
  assert.equal(isConnectionLoss(new BrokerError('x', { code: 'E_BROKER_UNAVAILABLE' })), true);
  assert.equal(isConnectionLoss(new BrokerError('x', { code: 'E_BROKER_NACK' })), false);
});

test('amqp errors: an operation error is one line naming the masked URL, the operation and the reason', () => {
  const e = operationError(URL_SHOWN, 'declare queue q', serverClose(406, 'PRECONDITION-FAILED', 'PRECONDITION_FAILED - inequivalent arg'));
  assert.ok(e instanceof BrokerError);
  assert.equal(e.code, 'E_BROKER_PRECONDITION');
  assert.equal(e.message, `${URL_SHOWN}: declare queue q: PRECONDITION_FAILED - inequivalent arg`);
  assert.equal(operationError(URL_SHOWN, 'purge', new Error('Channel ended, no reply will be forthcoming')).code, 'E_BROKER_UNAVAILABLE');
  const typed = new BrokerError('already typed', { code: 'E_BROKER_NACK' });
  assert.equal(operationError(URL_SHOWN, 'publish', typed), typed, 'a BrokerError passes through');
});

test('amqp errors: connect failures — credentials, vhost, timeout, refused — each with its code', () => {
  const target = { displayUrl: URL_SHOWN, url: 'amqp://guest:guest@HOST1:5672/lab%2Fvhost', connectTimeoutMs: 1234 };
  const auth = connectError(new Error('Handshake terminated by server: 403 (ACCESS-REFUSED) with message "ACCESS_REFUSED - Login was refused"'), target);
  assert.deepEqual([auth.code, auth.message], ['E_BROKER_AUTH', `${URL_SHOWN}: ACCESS_REFUSED - Login was refused`]);
  const vhost = connectError(new Error('Expected ConnectionOpenOk; got <ConnectionClose channel:0>'), target);
  assert.equal(vhost.code, 'E_BROKER_VHOST');
  assert.match(vhost.message, /access to vhost 'lab\/vhost' refused/);
  const slow = connectError(Object.assign(new Error('connect ETIMEDOUT'), { code: 'ETIMEDOUT' }), target);
  assert.deepEqual([slow.code, slow.message], ['E_BROKER_UNAVAILABLE', `${URL_SHOWN}: connect ETIMEDOUT (no AMQP answer within 1234 ms)`]);
  const refused = connectError(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5672\n    at …'), { code: 'ECONNREFUSED' }), target);
  assert.deepEqual([refused.code, refused.message], ['E_BROKER_UNAVAILABLE', `${URL_SHOWN}: connect ECONNREFUSED 127.0.0.1:5672`]);
  assert.equal(connectError(new Error('something else'), target).code, 'E_BROKER');
  for (const e of [auth, vhost, slow, refused]) assert.ok(!e.message.includes('guest:guest'), 'the password never shows');
});

test('amqp errors: the vhost of a URL', () => {
  assert.equal(vhostOf('amqp://h:5672'), '/');
  assert.equal(vhostOf('amqp://h:5672/'), '/');
  assert.equal(vhostOf('amqp://h:5672//'), '/');
  assert.equal(vhostOf('amqp://h:5672/lab'), 'lab');
  assert.equal(vhostOf('not a url'), '/');
});
