/**
 * The book's four machines as network namespaces, end to end, as root: up → up again → status → run mergesort and
 * currency on the lab → the book's own Python programs against it (served by lab workers, then by a Python Celery
 * worker on HOST3) → down → no namespace, veth, bridge, process or /etc/netns entry left.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunRecord } from '../../lab/report/run-record.js';
import type { LabStatus } from '../../lab/orchestrator/status.js';
import { REPO_ROOT, lab, startLab, waitOutput } from '../support/cli.js';
import { etcNetns, linkNames, netnsList, processesWithEnv } from '../support/lab-clean.js';
import { needs, root, serviceBinaries } from '../support/prereq.js';

const BOOK = join(REPO_ROOT, 'test/fixtures/book');

function pythonCelery(): Promise<string | null> {
  try {
    execFileSync('/usr/bin/python3', ['-c', 'import celery'], { stdio: 'ignore' });
    return Promise.resolve(null);
  } catch {
    return Promise.resolve('Debian python3-celery is not installed (apt-get install python3-celery)');
  }
}

test('netns lab: the book on four namespaces, and a clean machine after down', { timeout: 600_000 }, async (t) => {
  if (!(await root(t))) return;
  if (!(await serviceBinaries(t))) return;
  const home = await mkdtemp(join(tmpdir(), 'lab-netns-'));
  const reports = join(home, 'reports');
  const inventory = join(home, 'hosts.yaml');
  await writeFile(inventory, ['lab: e2enetns', 'provider: netns', 'subnet: 198.18.220.0/24', 'hosts:', '  HOST1:', '  HOST2:', '  HOST3: { concurrency: 2 }', '  HOST4:', ''].join('\n'));
  const env = { LAB_HOME: home };
  const run = (args: string[], extra: NodeJS.ProcessEnv = {}, cwd = home): ReturnType<typeof lab> => lab(args, { env: { ...env, ...extra }, cwd, timeoutMs: 180_000 });
  const linksBefore = new Set(linkNames());
  t.after(async () => {
    await run(['down', '--lab', 'e2enetns']);
    await rm(home, { recursive: true, force: true });
  });

  const up = await run(['up', '--hosts', inventory]);
  assert.equal(up.code, 0, `${up.stdout}\n${up.stderr}`);
  assert.equal(netnsList().filter((n) => n.includes('e2enetns')).length, 4);

  const again = await run(['up', '--hosts', inventory, '--json']);
  assert.equal(again.code, 0, again.stderr);
  assert.equal((JSON.parse(again.stdout) as { changed: boolean }).changed, false);

  const status = await run(['status', '--json']);
  assert.equal(status.code, 0, status.stderr);
  const s = JSON.parse(status.stdout) as LabStatus;
  assert.equal(s.healthy, true, status.stdout);
  assert.deepEqual(s.hosts.map((h) => h.address), ['198.18.220.11', '198.18.220.12', '198.18.220.13', '198.18.220.14']);

  // lab's workers also serve their own worker-direct queue: lab up's canary reaches each host's worker alone
  const queues = await run(['inspect', 'active_queues', '-d', 'celery@HOST3', '--json']);
  assert.equal(queues.code, 0, queues.stderr);
  const served = (JSON.parse(queues.stdout) as Record<string, { name: string; exchange: { name: string } }[]>)['celery@HOST3'] ?? [];
  assert.deepEqual(served.map((q) => `${q.name} on ${q.exchange.name}`), ['celery on celery', 'celery@HOST3.dq2 on C.dq2']);

  const resolve = await run(['exec', 'HOST4', '--', 'getent', 'hosts', 'HOST1']);
  assert.match(resolve.stdout, /^198\.18\.220\.11\s+HOST1/m);

  const ms = await run(['run', 'mergesort', '--n', '4', '--size', '200000', '--json', '--reports', reports]);
  assert.equal(ms.code, 0, ms.stderr);
  const rec = JSON.parse(ms.stdout) as RunRecord;
  assert.equal(rec.lab.kind, 'netns');
  assert.deepEqual(rec.lab.workers.hosts, ['HOST3']);
  assert.equal(rec.verified, true);

  const cur = await run(['run', 'currency', '--latency', '20', '--reports', reports]);
  assert.equal(cur.code, 0, cur.stderr);
  assert.match(cur.stdout, /^CADEUR \d/m);

  if (await needs(t, 'Python Celery 5.2 (python3-celery)', pythonCelery)) {
    // The book's main.py on HOST4, its sort tasks served by the lab's workers on HOST3.
    const book = await run(['exec', 'HOST4', '--', '/usr/bin/python3', 'main.py'], { BOOK_SIZE: '40000' }, BOOK);
    assert.equal(book.code, 0, `${book.stdout}\n${book.stderr}`);
    assert.match(book.stdout, /Distributed mergesort took [\d.]+s\nLocal mergesort took [\d.]+s\nsanity checks passed/);

    // …and served by a Python Celery worker started on HOST3 the same way.
    const worker = startLab(['exec', 'HOST3', '--', '/usr/bin/python3', '-m', 'celery', '-A', 'mergesort', 'worker', '-Q', 'pyq', '-c', '1', '--loglevel', 'info'], { env, cwd: BOOK });
    try {
      assert.ok(await waitOutput(worker, /ready\./, 60_000), `the Python worker did not start:\n${worker.output()}`);
      const py = await run(['exec', 'HOST4', '--', '/usr/bin/python3', 'main.py'], { BOOK_SIZE: '20000', BOOK_QUEUE: 'pyq' }, BOOK);
      assert.equal(py.code, 0, `${py.stdout}\n${py.stderr}`);
      assert.match(py.stdout, /sanity checks passed/);
    } finally {
      worker.child.kill('SIGINT');
      const w = await worker.done;
      assert.match(w.stderr, /mergesort\.sort/, 'the Python worker served the sort tasks');
    }
  }

  const down = await run(['down']);
  assert.equal(down.code, 0, `${down.stdout}\n${down.stderr}`);
  assert.deepEqual(netnsList().filter((n) => n.includes('e2enetns')), []);
  assert.deepEqual(etcNetns().filter((n) => n.includes('e2enetns')), []);
  assert.deepEqual(linkNames().filter((l) => !linksBefore.has(l)), [], 'no veth or bridge left');
  assert.deepEqual(processesWithEnv(`LAB_HOME=${home}`), []);
  assert.equal(existsSync(join(home, 'e2enetns')), false);
});
