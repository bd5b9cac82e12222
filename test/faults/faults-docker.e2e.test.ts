/**
 * Faults on a docker lab (Podman's Docker API, the role images: nothing of this machine mounted), through the same
 * fault code as on netns and ssh: the workers (lab's supervisor in the node container) killed and back with their
 * time to recover; paused and continued; RabbitMQ — unsupervised in its image, which has no Node — restarted and
 * started again by lab, with its time to recover; a partition held by iptables in HOST3's container (NET_ADMIN, the
 * node image's iptables) and healed; a partition of a host whose image has no iptables refused saying so; a
 * `lab fault` killed with -9 mid-pause and mid-partition leaves its fault applied until the next lab command heals
 * it; `lab down` leaves nothing.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import type { LabStatus } from '../../lab/orchestrator/status.js';
import { parseProcStat } from '../../lab/topology/proc.js';
import { dockerInventory } from '../../support/podman.js';
import { lab, startLab, waitOutput } from '../support/cli.js';
import { needs } from '../support/prereq.js';
import { useRoleEngine } from '../support/role-engine.js';

const LAB = 'e2edfault';

const engine = useRoleEngine([LAB], 'faults-docker e2e');

test('faults on a docker lab: kill, pause, restart rabbitmq, partition in the container; every fault healed, after a crash of lab too', { timeout: 600_000 }, async (t) => {
  if (!(await needs(t, 'Podman (Docker Engine API) and the role images', async () => engine.missing))) return;
  const home = await mkdtemp(join(tmpdir(), 'lab-docker-faults-'));
  const run = (args: string[]): ReturnType<typeof lab> => lab(args, { env: { LAB_HOME: home }, cwd: home, timeoutMs: 240_000 });
  t.after(async () => {
    await run(['down', '--lab', LAB]);
    await rm(home, { recursive: true, force: true });
  });
  const inventory = join(home, 'hosts.yaml');
  await writeFile(inventory, dockerInventory({ lab: LAB, subnet: '198.19.236.0/24', socket: engine.podman!.socket, roleImages: engine.images! }));
  const up = await run(['up', '--hosts', inventory]);
  assert.equal(up.code, 0, `${up.stdout}\n${up.stderr}`);

  /** The processes in HOST3's container that are stopped (SIGSTOP). */
  const stopped = async (): Promise<string[]> => {
    const r = await run(['exec', 'HOST3', '--', 'sh', '-c', 'cat /proc/[0-9]*/stat 2>/dev/null; true']);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.split('\n').map((l) => parseProcStat(l)).filter((p) => p !== null && p.state === 'T').map((p) => `${p!.pid} ${p!.comm}`);
  };
  /** The partition rules lab put in HOST3's container. */
  const rules = async (): Promise<string[]> => {
    const r = await run(['exec', 'HOST3', '--', 'iptables', '-w', '-S']);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.split('\n').filter((l) => l.includes(`lab-fault:${LAB}:`));
  };

  // the workers: lab's supervisor restarts them; the fault says when they were ready again
  const kill = await run(['fault', 'kill', 'workers@HOST3', '--json']);
  assert.equal(kill.code, 0, kill.stderr);
  const k = JSON.parse(kill.stdout) as { recoveryMs: number | null; applied: string[] };
  assert.ok(k.applied.some((a) => /SIGKILL workers .*\(pid \d+\)/.test(a)), kill.stdout);
  assert.ok(typeof k.recoveryMs === 'number' && k.recoveryMs > 0, `the killed workers came back: ${kill.stdout}`);

  const pause = await run(['fault', 'pause', 'workers@HOST3', '--for', '1s']);
  assert.equal(pause.code, 0, pause.stderr);
  assert.match(pause.stderr, /SIGSTOP workers .*\(pid \d+\)/);
  assert.match(pause.stderr, /SIGCONT workers .*\(pid \d+\)/);
  assert.deepEqual(await stopped(), []);

  // RabbitMQ runs unsupervised (its image has no Node): lab starts it again once it has stopped
  const restart = await run(['fault', 'restart', 'rabbitmq', '--json']);
  assert.equal(restart.code, 0, restart.stderr);
  const r = JSON.parse(restart.stdout) as { recoveryMs: number | null; applied: string[] };
  assert.ok(r.applied.some((a) => /SIGTERM rabbitmq/.test(a)), restart.stdout);
  assert.ok(r.applied.some((a) => /unsupervised there: lab starts it again/.test(a)), restart.stdout);
  assert.ok(typeof r.recoveryMs === 'number' && r.recoveryMs > 0, `RabbitMQ came back: ${restart.stdout}`);
  // RabbitMQ is ready; the workers reconnect on their own backoff (capped, with jitter): healthy again within a minute
  let st = await run(['status', '--json']);
  for (const until = Date.now() + 60_000; st.code !== 0 && Date.now() < until; st = await run(['status', '--json'])) await new Promise((r) => setTimeout(r, 2000));
  assert.equal(st.code, 0, st.stdout + st.stderr);
  assert.equal((JSON.parse(st.stdout) as LabStatus).healthy, true, 'RabbitMQ and the workers are healthy again');

  // a partition in HOST3's own network namespace, held until `lab fault heal`
  const part = await run(['fault', 'partition', 'HOST3', 'from', 'HOST1']);
  assert.equal(part.code, 0, part.stderr);
  assert.deepEqual((await rules()).map((l) => l.replace(/lab-fault:e2edfault:\w+/, 'ID')), ['-A INPUT -s 198.19.236.11/32 -m comment --comment "ID" -j DROP', '-A OUTPUT -d 198.19.236.11/32 -m comment --comment "ID" -j DROP']);
  const cut = await run(['exec', 'HOST3', '--', 'python3', '-c', 'import socket; socket.create_connection(("HOST1", 5672), timeout=1)']);
  assert.notEqual(cut.code, 0, 'HOST3 cannot reach HOST1 while partitioned');
  const healed = await run(['fault', 'heal']);
  assert.equal(healed.code, 0, healed.stderr);
  assert.match(healed.stdout, /healed \w+: partition HOST3 from HOST1/);
  assert.deepEqual(await rules(), []);

  // HOST1 runs the broker image: no iptables there — refused, saying so, and nothing left in the ledger
  const refused = await run(['fault', 'partition', 'HOST1', 'from', 'HOST3', '--for', '1s']);
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /partition HOST1 from HOST3: iptables does not work in HOST1's container .*HOST1's image has no iptables/);
  assert.deepEqual(JSON.parse((await run(['fault', 'list', '--json'])).stdout), []);

  // lab fault killed with -9 mid-pause: the workers stay stopped until the next lab command (status) heals it
  const paused = startLab(['fault', 'pause', 'workers@HOST3', '--for', '60s'], { env: { LAB_HOME: home }, cwd: home });
  assert.ok(await waitOutput(paused, /SIGSTOP workers/, 60_000), paused.output());
  paused.child.kill('SIGKILL');
  await paused.done;
  assert.ok((await stopped()).length > 0, 'the crashed lab fault left the workers stopped');
  const status = await run(['status']);
  assert.match(status.stderr, /healed fault \w+ \(pause workers@HOST3 --for 60s\) left by a lab process that is gone/);
  assert.deepEqual(await stopped(), []);

  // … and mid-partition: the rules stay until the next lab command (fault list) heals them
  const parted = startLab(['fault', 'partition', 'HOST3', 'from', 'HOST2', '--for', '60s'], { env: { LAB_HOME: home }, cwd: home });
  assert.ok(await waitOutput(parted, /iptables OUTPUT DROP to 198\.19\.236\.12/, 60_000), parted.output());
  parted.child.kill('SIGKILL');
  await parted.done;
  assert.equal((await rules()).length, 2, 'the crashed lab fault left its partition applied');
  const list = await run(['fault', 'list']);
  assert.match(list.stderr, /healed fault \w+ \(partition HOST3 from HOST2 --for 60s\) left by a lab process that is gone/);
  assert.deepEqual(await rules(), []);

  const down = await run(['down']);
  assert.equal(down.code, 0, down.stderr);
  assert.deepEqual((await engine.podman!.engine.containersLabelled(`lab.name=${LAB}`)).map((c) => c.name), []);
  assert.deepEqual((await engine.podman!.engine.networksLabelled(`lab.name=${LAB}`)).map((n) => n.name), []);
});
