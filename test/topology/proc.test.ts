import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  checkProcess,
  haveProc,
  parseProcStat,
  processIdentity,
  processStartTime,
  signalRecorded,
  stopRecorded,
} from '../../lab/topology/proc.js';
import { needs } from '../support/prereq.js';
import { withTempDir } from './helpers.js';

/** A /proc/<pid>/stat line with the given comm and starttime (52 fields). */
function statLine(pid: number, comm: string, startTime: number, state = 'S'): string {
  const fields = [String(pid), `(${comm})`, state, '1', String(pid), String(pid)];
  while (fields.length < 21) fields.push('0');
  fields.push(String(startTime)); // field 22
  while (fields.length < 52) fields.push('0');
  return `${fields.join(' ')}\n`;
}

describe('process identity (pid + start time)', () => {
  it('parses field 22 even when the command name has spaces and parentheses', () => {
    const st = parseProcStat(statLine(4242, 'my (odd) proc) S 1 2', 987654));
    assert.ok(st);
    assert.equal(st.pid, 4242);
    assert.equal(st.comm, 'my (odd) proc) S 1 2');
    assert.equal(st.state, 'S');
    assert.equal(st.ppid, 1);
    assert.equal(st.startTime, 987654);
    assert.equal(parseProcStat('garbage'), null);
    assert.equal(parseProcStat('12 (x) S 1'), null);
  });

  it('reads this process and tells same / reused / gone apart (fake /proc)', () =>
    withTempDir(async (dir) => {
      await mkdir(join(dir, '100'));
      await writeFile(join(dir, '100', 'stat'), statLine(100, 'rabbitmq-server', 5000));
      await mkdir(join(dir, '101'));
      await writeFile(join(dir, '101', 'stat'), statLine(101, 'zombie', 7000, 'Z'));
      assert.equal(await processStartTime(100, dir), 5000);
      assert.equal(await checkProcess({ pid: 100, startTime: 5000 }, dir), 'same');
      assert.equal(await checkProcess({ pid: 100, startTime: 4999 }, dir), 'reused');
      assert.equal(await checkProcess({ pid: 102, startTime: 5000 }, dir), 'gone');
      assert.equal(await checkProcess({ pid: 101, startTime: 7000 }, dir), 'gone', 'a zombie counts as gone');
    }));

  it('never signals a reused pid; stops the recorded one', async (t) => {
    if (!(await needs(t, '/proc (Linux)', async () => ((await haveProc()) ? null : 'no /proc here: process identity needs Linux')))) return;
    const me = await processIdentity(process.pid);
    assert.ok(me && me.startTime > 0);
    assert.equal(await checkProcess(me), 'same');

    const child = spawn('sleep', ['30'], { stdio: 'ignore' });
    const exited = new Promise<NodeJS.Signals | null>((r) => child.once('exit', (_c, s) => r(s)));
    const id = await processIdentity(child.pid!);
    assert.ok(id);
    // a ledger entry from an earlier boot/process with the same pid: must not be touched
    assert.equal(await signalRecorded({ pid: id.pid, startTime: id.startTime - 1 }), 'reused');
    assert.equal(await checkProcess(id), 'same', 'still running');
    assert.equal(await stopRecorded(id, 2000), 'gone');
    assert.equal(await exited, 'SIGTERM');
    assert.equal(await checkProcess(id), 'gone');
    assert.equal(await signalRecorded(id), 'gone');
  });
});
