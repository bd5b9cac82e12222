import test from 'node:test';
import assert from 'node:assert/strict';
import yargs from 'yargs';
import { skipHelpRenderAfterHandler } from '../../lab/cli/help-render.js';

/** A yargs like lab's (a command with options and a fail handler that throws), counting help renders. */
function cli(argv: string[], patch: boolean): { renders: () => number; ran: () => boolean; run: () => Promise<unknown>; patched: boolean } {
  let ran = false;
  const y = yargs(argv)
    .command('go', 'a command', (c) => c.option('far', { type: 'number', describe: 'how far' }), async () => {
      ran = true;
    })
    .strict()
    .help()
    .exitProcess(false)
    .fail((message, err) => {
      throw err ?? new Error(message);
    });
  const usage = (y as unknown as { getInternalMethods(): { getUsageInstance(): { help: () => string } } }).getInternalMethods().getUsageInstance();
  let renders = 0;
  const help = usage.help.bind(usage);
  usage.help = () => {
    renders++;
    return help();
  };
  const patched = patch ? skipHelpRenderAfterHandler(y) : false;
  return { renders: () => renders, ran: () => ran, run: () => y.parseAsync(), patched };
}

test('yargs renders the help after a handler starts; patched, it does not (the handler still runs)', async () => {
  const plain = cli(['go', '--far', '2'], false);
  await plain.run();
  assert.ok(plain.ran());
  // the render the patch removes: if this yargs no longer does it, this test says so
  assert.equal(plain.renders(), 1);

  const fast = cli(['go', '--far', '2'], true);
  assert.equal(fast.patched, true, 'this yargs has usage.cacheHelpMessage');
  await fast.run();
  assert.ok(fast.ran());
  assert.equal(fast.renders(), 0);
});

test('patched, --help and usage errors are answered as before', async () => {
  const asked = cli(['go', '--help'], true);
  const out: string[] = [];
  const log = console.log;
  console.log = (s: string) => out.push(s);
  try {
    await asked.run();
  } finally {
    console.log = log;
  }
  assert.equal(asked.ran(), false);
  assert.match(out.join('\n'), /--far\s+how far/);

  const bad = cli(['go', '--farr', '2'], true);
  await assert.rejects(async () => bad.run(), /Unknown argument: farr/);
  assert.equal(bad.ran(), false);
});

test('an object without yargs internals is left alone', () => {
  assert.equal(skipHelpRenderAfterHandler({}), false);
  assert.equal(skipHelpRenderAfterHandler({ getInternalMethods: () => ({ getUsageInstance: () => ({}) }) }), false);
});
