/** Unit: the leftovers check sees a process a test left — by its token, or by its working folder alone — and not one that went. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import test from 'node:test';
import { PROCESS_TOKEN_ENV } from '../../lab/providers/provider.js';
import { leftovers, snapshot } from './leftovers.js';

test('leftovers: a process in a lab folder or with a lab token that appeared since the snapshot is reported until it is gone', async (t) => {
  const before = await snapshot();
  const folder = await mkdtemp('/tmp/lab-leftovers-');
  const inFolder = spawn('sleep', ['60'], { cwd: folder, stdio: 'ignore' });
  const tokened = spawn('sleep', ['60'], { env: { PATH: process.env.PATH, [PROCESS_TOKEN_ENV]: 'leftovers-test' }, stdio: 'ignore' });
  const plain = spawn('sleep', ['60'], { stdio: 'ignore' }); // not lab's: never reported
  t.after(async () => {
    for (const c of [inFolder, tokened, plain]) c.kill('SIGKILL');
    await rm(folder, { recursive: true, force: true });
  });
  await new Promise((r) => setTimeout(r, 100)); // the children have exec'd sleep
  const left = await leftovers(before, 0);
  assert.ok(left.some((l) => l.startsWith(`process ${inFolder.pid} (sleep) in ${folder}`)), left.join('; '));
  assert.ok(left.some((l) => l.startsWith(`process ${tokened.pid} (sleep)`)), left.join('; '));
  assert.ok(!left.some((l) => l.startsWith(`process ${plain.pid} `)), left.join('; '));
  const gone = Promise.all([inFolder, tokened].map((c) => new Promise((r) => c.once('exit', r))));
  inFolder.kill('SIGKILL');
  tokened.kill('SIGKILL');
  await gone;
  const after = await leftovers(before, 0);
  assert.ok(!after.some((l) => l.startsWith(`process ${inFolder.pid} `) || l.startsWith(`process ${tokened.pid} `)), after.join('; '));
});
