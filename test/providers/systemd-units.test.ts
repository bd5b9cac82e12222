/**
 * Unit (no servers, no systemd): supervision by systemd on an ssh host without lab — the systemd-run command line
 * (restart policy, start limit, log, umask, environment file, token), the environment file's quoting, and what
 * `systemctl show` says read back; and what supervises an ssh host's services.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { environmentFile, parseShow, showTime, systemdRunArgv, unitName } from '../../lab/providers/ssh-units.js';
import { sshSupervision } from '../../lab/providers/ssh-workdir.js';
import type { HostFacts } from '../../lab/providers/ssh-hosts.js';
import type { HostSpec } from '../../lab/topology/topology.js';

test('systemd-run: Restart=, a start limit of maxRestarts + 1, output appended to the log, secrets in a file', () => {
  const argv = systemdRunArgv(['/usr/sbin/rabbitmq-server'], {
    key: 'proc:HOST1:rabbitmq',
    unit: unitName('book', 'HOST1', 'rabbitmq'),
    logFile: '/var/lib/lab/book/HOST1/logs/rabbitmq.log',
    restart: 'always',
    maxRestarts: 3,
    umask: 0o077,
    user: 'rabbitmq',
    stopGraceMs: 10_000,
    token: 'abc123',
    envFile: '/var/lib/lab/book/HOST1/supervise/lab-book-HOST1-rabbitmq.env',
  });
  assert.deepEqual(argv, [
    'systemd-run',
    '--unit=lab-book-HOST1-rabbitmq',
    '--description=lab service proc:HOST1:rabbitmq',
    '--property=Restart=always',
    '--property=RestartSec=1',
    '--property=StartLimitIntervalSec=60',
    '--property=StartLimitBurst=4',
    '--property=StandardOutput=append:/var/lib/lab/book/HOST1/logs/rabbitmq.log',
    '--property=StandardError=append:/var/lib/lab/book/HOST1/logs/rabbitmq.log',
    '--property=TimeoutStopSec=10',
    '--setenv=LAB_PROCESS_TOKEN=abc123',
    '--property=UMask=0077',
    '--property=EnvironmentFile=/var/lib/lab/book/HOST1/supervise/lab-book-HOST1-rabbitmq.env',
    '--uid=rabbitmq',
    '--gid=rabbitmq',
    '--',
    '/usr/sbin/rabbitmq-server',
  ]);
  const never = systemdRunArgv(['redis-server', '/x/redis.conf'], { key: 'k', unit: 'lab-b-H-redis', logFile: '/l', restart: 'never', maxRestarts: 0, token: 't', envFile: null });
  assert.ok(never.includes('--property=Restart=no'));
  assert.ok(!never.some((a) => a.startsWith('--property=EnvironmentFile')));
  assert.equal(unitName('my-lab', 'pi.local', 'rq worker'), 'lab-my-lab-pi.local-rq_worker');
});

test('the environment file: NAME="value", quotes and backslashes escaped; a newline refused', () => {
  assert.equal(environmentFile({ LAB_BROKER_URL: 'amqp://lab:p"w\\x@HOST1:5672/book', EMPTY: '' }), 'LAB_BROKER_URL="amqp://lab:p\\"w\\\\x@HOST1:5672/book"\nEMPTY=""\n');
  assert.throws(() => environmentFile({ BAD: 'a\nb' }), /cannot pass environment variable "BAD"/);
});

test('systemctl show: state, main pid, restarts, the last exit (code or signal) and times', () => {
  const killed = parseShow(
    ['ActiveState=activating', 'SubState=auto-restart', 'MainPID=0', 'NRestarts=2', 'ExecMainStartTimestamp=@1764600000', 'ExecMainExitTimestamp=@1764600042', 'ExecMainCode=2', 'ExecMainStatus=9', 'Result=signal', 'LoadState=loaded'].join('\n'),
  );
  assert.deepEqual(killed, { loaded: true, active: 'activating', sub: 'auto-restart', mainPid: null, restarts: 2, lastExit: { code: null, signal: 'SIGKILL', at: '2025-12-01T14:40:42.000Z' }, startedAt: null, result: 'signal' });
  const running = parseShow(['ActiveState=active', 'SubState=running', 'MainPID=4242', 'NRestarts=0', 'ExecMainStartTimestamp=Mon 2026-12-01 15:37:53 UTC', 'ExecMainExitTimestamp=', 'ExecMainCode=0', 'ExecMainStatus=0', 'Result=success', 'LoadState=loaded'].join('\n'));
  assert.equal(running.mainPid, 4242);
  assert.equal(running.startedAt, '2026-12-01T15:37:53.000Z');
  assert.equal(running.lastExit, null);
  const exited = parseShow('ActiveState=failed\nSubState=failed\nMainPID=0\nNRestarts=3\nExecMainCode=1\nExecMainStatus=3\nExecMainExitTimestamp=@1764600100\nResult=start-limit-hit\nLoadState=loaded\n');
  assert.deepEqual(exited.lastExit, { code: 3, signal: null, at: '2025-12-01T14:41:40.000Z' });
  assert.equal(parseShow('LoadState=not-found\n').loaded, false);
  assert.equal(showTime('n/a'), null);
});

test('what supervises an ssh host\'s services: lab where lab runs, systemd where root can use it, else nothing', () => {
  const facts = (f: Partial<HostFacts>): HostFacts => ({ home: '/home/pi', uid: 1000, uname: 'Linux aarch64', hasSudo: true, hasRunuser: true, hasTar: true, hasSystemd: true, commands: {}, ...f });
  const host = (roles: HostSpec['roles'], sudo = true): HostSpec => ({ name: 'H', roles, address: '10.0.0.1', sudo, concurrency: 2, pool: 'prefork', queues: ['celery'] });
  assert.equal(sshSupervision(host(['workers']), facts({ hasSystemd: false })), 'lab');
  assert.equal(sshSupervision(host(['broker']), facts({})), 'systemd');
  assert.equal(sshSupervision(host(['broker'], false), facts({})), 'none', 'systemd-run needs root: no sudo, no units');
  assert.equal(sshSupervision(host(['broker'], false), facts({ uid: 0 })), 'systemd');
  assert.equal(sshSupervision(host(['backend']), facts({ hasSystemd: false })), 'none');
});
