import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NETEM_GONE, netemAddArgv, netemDelArgv, netemMissing } from '../../lab/faults/netem.js';
import { signalArgv } from '../../lab/faults/fault-steps.js';

test('the tc netem commands a slow link would run (this kernel has no netem: checked here, not run)', () => {
  assert.deepEqual(netemAddArgv('eth0', 20), ['tc', 'qdisc', 'add', 'dev', 'eth0', 'root', 'netem', 'delay', '20ms']);
  assert.deepEqual(netemAddArgv('ens3', 50, 125_000), ['tc', 'qdisc', 'add', 'dev', 'ens3', 'root', 'netem', 'delay', '50ms', 'rate', '1000kbit']);
  assert.deepEqual(netemDelArgv('eth0'), ['tc', 'qdisc', 'del', 'dev', 'eth0', 'root']);
  assert.throws(() => netemAddArgv('eth0; reboot', 20), TypeError);
  assert.throws(() => netemAddArgv('eth0', 1.5), TypeError);
});

test("tc's answers: no netem here, and a qdisc already gone", () => {
  assert.equal(netemMissing('Error: Specified qdisc kind is unknown.\n'), true);
  assert.equal(netemMissing('RTNETLINK answers: Operation not permitted\n'), false);
  assert.match('Error: Cannot delete qdisc with handle of zero.', new RegExp(NETEM_GONE));
});

test('signals go to pids whose start time still matches, as arguments (never spliced into the script)', () => {
  const argv = signalArgv('SIGSTOP', [
    { pid: 41, startTime: 1000 },
    { pid: 42, startTime: 1001 },
  ]);
  assert.deepEqual(argv.slice(0, 2), ['sh', '-c']);
  assert.deepEqual(argv.slice(3), ['sh', 'STOP', '41', '1000', '42', '1001']);
  assert.ok(!argv[2]!.includes('41'));
});
