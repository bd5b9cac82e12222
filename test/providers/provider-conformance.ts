/**
 * The provider conformance suite: the same behaviours, asserted the same way, against every provider — local, netns,
 * ssh (sshd in network namespaces) and docker (Podman's Docker API). Each `conformance-<kind>.e2e.test.ts` gives a
 * harness (how to make a two-host lab of that kind, and what it would leave behind) and calls
 * `providerConformance`. One lab per file; the tests run in order on it, the last one undoes it.
 *
 *   up                 creates the hosts, says it changed; each host runs commands and has its work directory
 *   re-up              a new provider on the same ledger: nothing changes, the ledger is untouched
 *   exec               exit code, stdout and stderr apart, env, stdin, cwd, argv passed literally, a missing command
 *   spawn / signal     detached with its log; alive; found and stopped by pid + start time — a reused pid (same pid,
 *   / stop             other start time) is never signalled; the whole process group stops
 *   hosts              writeHosts: every host resolves every other by name (not on local: one machine, no names)
 *   files              writeFile / readFile: content, mode, the tail of a file
 *   undo               replaying the ledger (as lab down) leaves nothing: no namespace, veth, process, container,
 *                      hosts block, file or folder of the lab; undoing it all again is still success
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import type { TestContext } from 'node:test';
import { LabError } from '../../lab/errors.js';
import type { Provider, ProgressEvent } from '../../lab/providers/provider.js';
import { Ledger } from '../../lab/topology/ledger.js';
import { newState } from '../../lab/topology/state.js';
import type { Topology } from '../../lab/topology/topology.js';
import { needs } from '../support/prereq.js';

export interface ConformanceLab {
  topology: Topology;
  stateDir: string;
}

export interface ConformanceHarness {
  /** The provider kind, in test names. */
  kind: string;
  /** What the provider needs on this machine (root, sshd, Podman…): null when it is all there, else why not. */
  missing(): Promise<string | null>;
  /** A fresh lab of two hosts, HOST1 and HOST2 (whatever services once per file — sshd, Podman — it needs). */
  lab(): Promise<ConformanceLab>;
  /** A provider of that lab, acting on (and recording in) `ledger`. */
  provider(lab: ConformanceLab, ledger: Ledger): Provider;
  /** What of the lab is still on the machine ([] when nothing is); `tokens` are its processes' LAB_PROCESS_TOKENs. */
  leftovers(lab: ConformanceLab, tokens: string[]): Promise<string[]>;
  /** Last resort after a failed test: remove what the lab may have left (by its own names only), stop services. */
  cleanup(lab: ConformanceLab | null): Promise<void>;
  /** local: hosts are this machine; names do not resolve (the lab uses addresses) and writeHosts writes nothing. */
  resolvesNames: boolean;
  /** ssh: the remote shell reports a missing command as exit 127; elsewhere it is E_COMMAND_NOT_FOUND. */
  missingCommand: 'throws' | 'exit 127';
}

const HOSTILE = ['; touch /tmp/lab-conformance-pwned', '$(id)', '`id`', "it's \"quoted\"", 'line1\nline2', '  spaced  ', '', '*', '$HOME', '\\', '-n', 'K=V'];

async function rejectsWith(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof LabError, `expected a LabError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    return true;
  });
}

async function until<T>(what: string, timeoutMs: number, f: () => Promise<T | null>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v !== null) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** How many processes on a host carry LAB_PROCESS_TOKEN=<token> (read on the host, as the provider sees it). */
async function withToken(p: Provider, host: string, token: string): Promise<number> {
  const r = await p.exec(host, ['sh', '-c', 'grep -lzxF -e "$1" /proc/[0-9]*/environ 2>/dev/null | wc -l', 'sh', `LAB_PROCESS_TOKEN=${token}`]);
  assert.equal(r.exitCode, 0, r.stderr);
  return Number(r.stdout.trim());
}

export function providerConformance(h: ConformanceHarness): void {
  describe(`${h.kind} provider conformance`, () => {
    let lab: ConformanceLab | null = null;
    let ledger: Ledger | null = null;
    let provider: Provider | null = null;
    const opened: Provider[] = [];

    const ready = (t: TestContext): Promise<boolean> => needs(t, `the ${h.kind} provider`, h.missing);
    /** The lab, up (made by the first test that needs it). */
    let upP: Promise<{ changed: boolean; events: ProgressEvent[] }> | null = null;
    const up = (): Promise<{ changed: boolean; events: ProgressEvent[] }> => {
      upP ??= (async () => {
        lab = await h.lab();
        ledger = await Ledger.open(lab.stateDir);
        provider = h.provider(lab, ledger);
        opened.push(provider);
        const events: ProgressEvent[] = [];
        const { changed } = await provider.up({ state: newState(lab.topology), progress: (e) => events.push(e) });
        return { changed, events };
      })();
      return upP;
    };
    const hosts = (): string[] => lab!.topology.hosts.map((x) => x.name);

    after(async () => {
      for (const p of opened) await p.close().catch(() => undefined);
      if (lab && ledger && ledger.size > 0) {
        // a test failed before the undo test: undo what is left, then the harness's last resort
        const p = h.provider(lab, ledger);
        await ledger.replayReverse((e) => p.undo({ ...e, data: { ...e.data, graceMs: 1000 } })).catch(() => undefined);
        await p.close().catch(() => undefined);
      }
      await h.cleanup(lab);
    });

    test('up: creates the hosts and says it changed; every host runs commands and has its work directory', async (t) => {
      if (!(await ready(t))) return;
      const { changed, events } = await up();
      assert.equal(changed, true);
      assert.deepEqual(events.filter((e) => e.status === 'fail'), []);
      assert.ok(ledger!.size > 0 && ledger!.entries().every((e) => e.state === 'done'), JSON.stringify(ledger!.entries()));
      for (const name of hosts()) {
        const info = provider!.host(name);
        assert.equal(info.name, name);
        assert.equal(info.address, lab!.topology.host(name)!.address);
        const r = await provider!.exec(name, ['test', '-d', info.workDir]);
        assert.equal(r.exitCode, 0, `${name}: work directory ${info.workDir}: ${r.stderr}`);
      }
    });

    test('re-up: a new provider on the same ledger changes nothing and leaves the ledger as it was', async (t) => {
      if (!(await ready(t))) return;
      await up();
      const before = JSON.stringify(ledger!.entries());
      const again = h.provider(lab!, ledger!);
      opened.push(again);
      const events: ProgressEvent[] = [];
      const outcome = await again.up({ state: newState(lab!.topology), progress: (e) => events.push(e) });
      assert.deepEqual(outcome, { changed: false });
      assert.deepEqual(events.filter((e) => e.status === 'done' || e.status === 'fail'), []);
      assert.equal(JSON.stringify(ledger!.entries()), before);
    });

    test('exec: exit code, stdout and stderr apart, env, stdin, cwd, argv literally; a missing command', async (t) => {
      if (!(await ready(t))) return;
      await up();
      const p = provider!;
      for (const host of hosts()) {
        const r = await p.exec(host, ['sh', '-c', 'echo out; echo err >&2; exit 7']);
        assert.deepEqual([r.exitCode, r.stdout, r.stderr], [7, 'out\n', 'err\n'], host);
        assert.ok(r.durationMs >= 0);
      }
      const value = `a b;$(touch /tmp/lab-conformance-pwned) 'q' "d"`;
      assert.equal((await p.exec('HOST2', ['sh', '-c', 'printf %s "$V"'], { env: { V: value } })).stdout, value);
      assert.equal((await p.exec('HOST2', ['cat'], { input: 'line1\nline2\0bytes' })).stdout, 'line1\nline2\0bytes');
      const workDir = p.host('HOST2').workDir;
      assert.equal((await p.exec('HOST2', ['pwd'], { cwd: workDir })).stdout, `${workDir}\n`);
      const echoed = await p.exec('HOST2', ['printf', '%s\\0', ...HOSTILE]);
      assert.equal(echoed.exitCode, 0, echoed.stderr);
      assert.deepEqual(echoed.stdout.split('\0').slice(0, -1), HOSTILE);
      assert.equal((await p.exec('HOST2', ['test', '-e', '/tmp/lab-conformance-pwned'])).exitCode, 1, 'nothing was injected');
      if (h.missingCommand === 'throws') await rejectsWith(p.exec('HOST1', ['no-such-command-lab-conformance']), 'E_COMMAND_NOT_FOUND');
      else assert.equal((await p.exec('HOST1', ['no-such-command-lab-conformance'])).exitCode, 127);
    });

    test('spawn / alive / signal / stop by pid + start time: a reused pid is never signalled; the group stops', async (t) => {
      if (!(await ready(t))) return;
      await up();
      const p = provider!;
      const logFile = `${p.host('HOST2').workDir}/logs/conformance.log`;
      const ref = await p.spawn('HOST2', ['sh', '-c', 'echo "started $FOO"; sleep 300 & sleep 301'], { key: 'proc:HOST2:conformance', logFile, env: { FOO: "bar 'baz'" } });
      assert.equal(ref.host, 'HOST2');
      const entry = ledger!.get('proc:HOST2:conformance')!;
      assert.equal(entry.state, 'done');
      assert.deepEqual([entry.data.pid, entry.data.startTime], [ref.pid, ref.startTime]);
      const token = String(entry.data.token);
      assert.equal(await p.alive(ref), true);
      await until('the log line', 5000, async () => ((await p.readFile('HOST2', logFile)).toString().includes("started bar 'baz'") ? true : null));
      assert.equal((await p.readFile('HOST2', logFile, { tailBytes: 6 })).toString(), "'baz'", 'the tail, without the newline');
      // the shell (unless it became its last command) and both sleeps
      assert.ok((await withToken(p, 'HOST2', token)) >= 2, 'the group carries the token');

      // the same pid with another start time is another process: never signalled, never "alive"
      const other = { ...ref, startTime: ref.startTime + 1 };
      assert.equal(await p.signal(other, 'SIGKILL'), 'reused');
      assert.equal(await p.stop(other, 500), 'reused');
      assert.equal(await p.alive(other), false);
      assert.equal(await p.alive(ref), true, 'still running');

      assert.equal(await p.signal(ref, 'SIGCONT'), 'same');
      assert.equal(await p.stop(ref, 3000), 'gone');
      assert.equal(await p.alive(ref), false);
      await until('the whole group to stop', 3000, async () => ((await withToken(p, 'HOST2', token)) === 0 ? true : null));
      assert.equal(await p.stop(ref), 'gone', 'stopping twice is fine');
      assert.equal(await p.signal(ref, 'SIGTERM'), 'gone');

      // one left running for the undo test to stop
      const left = await p.spawn('HOST1', ['sleep', '300'], { key: 'proc:HOST1:lingering', logFile: `${p.host('HOST1').workDir}/logs/lingering.log` });
      assert.equal(await p.alive(left), true);
    });

    test('writeHosts: every host resolves every other by name', async (t) => {
      if (!(await ready(t))) return;
      await up();
      const p = provider!;
      const entries = lab!.topology.hosts.map((x) => ({ address: x.address, names: [x.name] }));
      for (const host of hosts()) await p.writeHosts(host, entries);
      if (!h.resolvesNames) {
        t.diagnostic(`${h.kind}: every host is this machine; the lab's URLs use addresses, so names are not resolved`);
        return;
      }
      for (const host of hosts()) {
        for (const other of lab!.topology.hosts) {
          const r = await p.exec(host, ['getent', 'hosts', other.name]);
          assert.equal(r.exitCode, 0, `${host} resolves ${other.name}: ${r.stderr}`);
          assert.equal(r.stdout.trim().split(/\s+/)[0], other.address, `${host} resolves ${other.name}`);
        }
      }
    });

    test('writeFile / readFile: content, mode, the tail of a file', async (t) => {
      if (!(await ready(t))) return;
      await up();
      const p = provider!;
      const path = `${p.host('HOST1').workDir}/conformance.txt`;
      const content = Buffer.from("first line\nsecond $(line) 'x'\nlast\n");
      await p.writeFile('HOST1', path, content, { mode: 0o640 });
      assert.deepEqual(await p.readFile('HOST1', path), content);
      assert.equal((await p.exec('HOST1', ['stat', '-c', '%a', path])).stdout.trim(), '640');
      assert.equal((await p.readFile('HOST1', path, { tailBytes: 9 })).toString(), "'x'\nlast");
      assert.equal((await p.readFile('HOST1', `${path}.never-written`, { tailBytes: 100 })).length, 0);
      await p.writeFile('HOST1', path, 'replaced');
      assert.equal((await p.readFile('HOST1', path)).toString(), 'replaced');
    });

    test('undo: replaying the ledger (as lab down) leaves nothing; undoing it all again is still success', async (t) => {
      if (!(await ready(t))) return;
      await up();
      const recorded = ledger!.entries();
      const tokens = recorded.flatMap((e) => (typeof e.data.token === 'string' ? [e.data.token] : []));
      assert.ok(tokens.length >= 2, 'the spawned processes are in the ledger');
      const down = h.provider(lab!, ledger!);
      opened.push(down);
      const failures = await ledger!.replayReverse((e) => down.undo({ ...e, data: { ...e.data, graceMs: 1000 } }));
      assert.deepEqual(failures.map((f) => `${f.entry.key}: ${String(f.error)}`), []);
      assert.equal(ledger!.size, 0);
      assert.deepEqual(await h.leftovers(lab!, tokens), []);
      for (const e of [...recorded].reverse()) await down.undo(e);
      assert.deepEqual(await h.leftovers(lab!, tokens), []);
    });
  });
}
