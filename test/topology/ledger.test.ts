import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFile, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Ledger, LedgerError, LEDGER_FILE, type LedgerEntry } from '../../lab/topology/ledger.js';
import { withTempDir } from './helpers.js';

const lines = async (dir: string): Promise<Record<string, unknown>[]> =>
  (await readFile(join(dir, LEDGER_FILE), 'utf8'))
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);

describe('Ledger', () => {
  it('writes the intent durably before returning, then done; entries() is the latest state per key', () =>
    withTempDir(async (dir) => {
      const l = await Ledger.open(dir);
      const e = await l.record('namespace', 'ns:HOST1', { name: 'lab-book-HOST1' });
      assert.equal(e.state, 'intent');
      // on disk already, before anything is created
      const onDisk = await lines(dir);
      assert.equal(onDisk.length, 1);
      assert.equal(onDisk[0]!.op, 'intent');
      assert.equal(onDisk[0]!.key, 'ns:HOST1');
      const d = await l.markDone(e, { inode: 42 });
      assert.equal(d.state, 'done');
      assert.deepEqual(d.data, { name: 'lab-book-HOST1', inode: 42 });
      assert.equal((await lines(dir)).length, 2);
      assert.equal((await stat(join(dir, LEDGER_FILE))).mode & 0o777, 0o600);
      assert.equal((await stat(dir)).mode & 0o777, 0o700);

      const again = await Ledger.open(dir);
      const es = again.entries();
      assert.equal(es.length, 1);
      assert.deepEqual(
        { kind: es[0]!.kind, key: es[0]!.key, state: es[0]!.state, data: es[0]!.data },
        { kind: 'namespace', key: 'ns:HOST1', state: 'done', data: { name: 'lab-book-HOST1', inode: 42 } },
      );
    }));

  it('survives a torn last line (crash mid-write) and keeps appending cleanly', () =>
    withTempDir(async (dir) => {
      const l = await Ledger.open(dir);
      await l.markDone(await l.record('bridge', 'br:lab0', { name: 'lab0' }));
      await l.record('veth', 'veth:HOST1', { name: 'v-h1' });
      await appendFile(join(dir, LEDGER_FILE), '{"v":1,"seq":3,"op":"intent","key":"veth:HO'); // torn
      const l2 = await Ledger.open(dir);
      assert.deepEqual(
        l2.entries().map((e) => [e.key, e.state]),
        [
          ['br:lab0', 'done'],
          ['veth:HOST1', 'intent'],
        ],
      );
      assert.equal(l2.warnings.length, 1);
      assert.match(l2.warnings[0]!, /torn last line/);
      await l2.record('veth', 'veth:HOST2', { name: 'v-h2' });
      const l3 = await Ledger.open(dir);
      assert.deepEqual(l3.warnings, []);
      assert.deepEqual(l3.entries().map((e) => e.key), ['br:lab0', 'veth:HOST1', 'veth:HOST2']);
    }));

  it('skips an unreadable line in the middle with a warning', () =>
    withTempDir(async (dir) => {
      const l = await Ledger.open(dir);
      await l.record('file', 'f:a', {});
      await appendFile(join(dir, LEDGER_FILE), 'garbage\n');
      await l.record('file', 'f:b', {});
      const l2 = await Ledger.open(dir);
      assert.deepEqual(l2.entries().map((e) => e.key), ['f:a', 'f:b']);
      assert.match(l2.warnings.join('\n'), /:2: skipped an unreadable line/);
    }));

  it('skips JSON that is not a ledger line (null, a string, a wrong op) the same way', () =>
    withTempDir(async (dir) => {
      const l = await Ledger.open(dir);
      await l.record('file', 'f:a', {});
      await appendFile(join(dir, LEDGER_FILE), ['null', '"intent"', '{"v":1,"seq":7,"op":"create","key":"f:x","at":""}', ''].join('\n'));
      const l2 = await Ledger.open(dir);
      assert.deepEqual(l2.entries().map((e) => e.key), ['f:a']);
      assert.deepEqual(l2.warnings.map((w) => w.replace(/^.*:(\d+): /, '$1: ')), ['2: skipped an unreadable line', '3: skipped an unreadable line', '4: skipped an unreadable line']);
    }));

  it('replayReverse undoes newest first, removes what it undid, and compacts the journal', () =>
    withTempDir(async (dir) => {
      const l = await Ledger.open(dir);
      for (const k of ['bridge', 'ns1', 'veth1', 'proc1']) await l.markDone(await l.record('file', k, { k }));
      await l.record('file', 'half-made', {}); // intent only: the crash came before it was marked done
      const seen: string[] = [];
      const failures = await l.replayReverse(async (e) => {
        seen.push(`${e.key}:${e.state}`);
      });
      assert.deepEqual(failures, []);
      assert.deepEqual(seen, ['half-made:intent', 'proc1:done', 'veth1:done', 'ns1:done', 'bridge:done']);
      assert.deepEqual(l.entries(), []);
      assert.equal((await readFile(join(dir, LEDGER_FILE), 'utf8')).length, 0, 'compacted to nothing');
      assert.deepEqual((await Ledger.open(dir)).entries(), []);
    }));

  it('replayReverse never throws half-way: failures are collected and kept for the next try', () =>
    withTempDir(async (dir) => {
      const l = await Ledger.open(dir);
      for (const k of ['a', 'b', 'c', 'd']) await l.markDone(await l.record('container', k));
      const seen: string[] = [];
      const failures = await l.replayReverse(async (e) => {
        seen.push(e.key);
        if (e.key === 'c') throw new Error('device busy');
        if (e.key === 'a') throw 'not even an Error';
      });
      assert.deepEqual(seen, ['d', 'c', 'b', 'a'], 'went on after a failure');
      assert.deepEqual(
        failures.map((f) => [f.entry.key, f.error instanceof Error ? f.error.message : f.error]),
        [
          ['c', 'device busy'],
          ['a', 'not even an Error'],
        ],
      );
      const reopened = await Ledger.open(dir);
      assert.deepEqual(reopened.entries().map((e) => e.key), ['a', 'c']);
      const second = await reopened.replayReverse(async () => undefined);
      assert.deepEqual(second, []);
      assert.equal(reopened.size, 0);
    }));

  it('re-recording a live key replaces it and moves it to the end of the replay order', () =>
    withTempDir(async (dir) => {
      const l = await Ledger.open(dir);
      await l.markDone(await l.record('process', 'p1', { pid: 1 }));
      await l.record('process', 'p2', { pid: 2 });
      await l.record('process', 'p1', { pid: 3 });
      const es = (await Ledger.open(dir)).entries();
      assert.deepEqual(
        es.map((e) => [e.key, e.state, e.data.pid]),
        [
          ['p2', 'intent', 2],
          ['p1', 'intent', 3],
        ],
      );
    }));

  it('concurrent records are serialized: every one lands, in call order', () =>
    withTempDir(async (dir) => {
      const l = await Ledger.open(dir);
      const keys = Array.from({ length: 25 }, (_, i) => `k${i}`);
      await Promise.all(keys.map((k) => l.record('file', k, { k })));
      const es = (await Ledger.open(dir)).entries();
      assert.deepEqual(es.map((e) => e.key), keys);
      assert.equal(new Set(es.map((e) => e.seq)).size, keys.length);
    }));

  it('entries() returns copies; markDone of an unknown key is an error; remove of one is a no-op', () =>
    withTempDir(async (dir) => {
      const l = await Ledger.open(dir);
      await l.record('user', 'rabbit:lab', { user: 'lab' });
      const [e] = l.entries() as [LedgerEntry];
      e.data.user = 'mutated';
      assert.equal(l.get('rabbit:lab')!.data.user, 'lab');
      await assert.rejects(l.markDone('nope'), LedgerError);
      await l.remove('nope');
      await assert.rejects(l.record('file', ''), LedgerError);
      assert.equal(l.size, 1);
    }));

  it('a process killed with -9 mid-way leaves a readable ledger', () =>
    withTempDir(async (dir) => {
      const ledgerUrl = new URL('../../lab/topology/ledger.js', import.meta.url).href;
      const script = `
        import { Ledger } from ${JSON.stringify(ledgerUrl)};
        const l = await Ledger.open(${JSON.stringify(dir)});
        for (let i = 0; ; i++) {
          const e = await l.record('file', 'k' + i, { i, pad: 'x'.repeat(200) });
          await l.markDone(e, { done: true });
        }`;
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: 'ignore' });
      const path = join(dir, LEDGER_FILE);
      for (let waited = 0; waited < 10_000; waited += 20) {
        const n = await readFile(path, 'utf8').then((t) => t.split('\n').length, () => 0);
        if (n > 60) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
      // simulate the worst case too: the kill landed in the middle of a write
      await appendFile(path, '{"v":1,"seq":99999,"op":"int');
      const l = await Ledger.open(dir);
      const es = l.entries();
      assert.ok(es.length >= 30, `only ${es.length} entries`);
      es.forEach((e, i) => {
        assert.equal(e.key, `k${i}`, 'no gaps, creation order');
        if (i < es.length - 1) assert.equal(e.state, 'done');
        if (e.state === 'done') assert.equal(e.data.done, true);
      });
      const undone: string[] = [];
      assert.deepEqual(await l.replayReverse(async (e) => void undone.push(e.key)), []);
      assert.deepEqual(undone, es.map((e) => e.key).reverse());
    }));

  it('an empty ledger file is fine; the folder is created', () =>
    withTempDir(async (dir) => {
      const sub = join(dir, 'lab', 'deeper');
      const l = await Ledger.open(sub);
      assert.deepEqual(l.entries(), []);
      await writeFile(join(sub, LEDGER_FILE), '');
      assert.deepEqual((await Ledger.open(sub)).entries(), []);
    }));
});
