/**
 * Broker and backend from one place: flags, else env, else --config, else the active lab — and the active lab only
 * when the user gave neither URL, so a broker given alone never pairs with another lab's backend.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { hasCode } from '../../lab/errors.js';
import { chooseUrls, requireBackend, requireBroker, resolveUrls, urlSourceLines } from '../../lab/cli/urls.js';
import type { UrlInputs } from '../../lab/cli/urls.js';
import { backendUrl, brokerUrl } from '../../lab/topology/state.js';
import { fakeLab } from './fake-lab.js';

const FLAG_B = 'amqp://me:flagpw@flag-host//';
const FLAG_R = 'redis://:flagpw@flag-host:6379/0';
const ENV_B = 'amqp://me:envpw@env-host//';
const ENV_R = 'redis://env-host:6379/1';
const CFG_B = 'amqp://HOST1';
const CFG_R = 'redis://HOST2';
const LAB = { name: 'book', urls: { broker: 'amqp://lab:labpw@198.18.0.11:5672/book', backend: 'redis://:labpw@198.18.0.12:6379/0' } };

const inputs = (o: Partial<UrlInputs>): UrlInputs => ({ flags: {}, env: {}, config: null, lab: null, ...o });

test('nothing given: both URLs come from the active lab, and -v says so', () => {
  const u = chooseUrls(inputs({ lab: LAB }));
  assert.deepEqual([u.broker, u.backend], [LAB.urls.broker, LAB.urls.backend]);
  assert.deepEqual([u.brokerFrom.source, u.backendFrom.source], ['lab', 'lab']);
  assert.deepEqual(urlSourceLines(u), ['broker  amqp://lab:****@198.18.0.11:5672/book (from the active lab "book")', 'backend redis://:****@198.18.0.12:6379/0 (from the active lab "book")']);
});

test('a broker given alone never pairs with the active lab’s backend: the backend is none, and says why', () => {
  for (const o of [{ flags: { broker: FLAG_B } }, { env: { broker: ENV_B } }, { config: { file: './config.js', broker: CFG_B } }]) {
    const u = chooseUrls(inputs({ ...o, lab: LAB }));
    assert.notEqual(u.broker, LAB.urls.broker);
    assert.equal(u.backend, null, JSON.stringify(o));
    assert.equal(u.backendFrom.source, 'none');
    assert.match(u.backendFrom.detail, /^only a broker was given, by (--broker|LAB_BROKER_URL|--config \.\/config\.js); the active lab's backend is never paired with a URL you gave$/);
  }
  // The same with no lab up: no mention of a lab.
  assert.equal(chooseUrls(inputs({ flags: { broker: FLAG_B } })).backendFrom.detail, 'only a broker was given, by --broker');
});

test('a backend given alone has no broker (never the lab’s): requireBroker says to pass --broker too', () => {
  const u = chooseUrls(inputs({ flags: { backend: FLAG_R }, lab: LAB }));
  assert.deepEqual([u.broker, u.backend], [null, FLAG_R]);
  assert.throws(() => requireBroker(u), (e: unknown) => hasCode(e, 'E_USAGE') && /^no broker: only a backend was given, by --backend; .*pass --broker too/.test((e as Error).message));
});

test('flags beat env, env beats --config; each URL from the first of them that gives it', () => {
  const all = inputs({ flags: { broker: FLAG_B, backend: FLAG_R }, env: { broker: ENV_B, backend: ENV_R }, config: { file: 'c.js', broker: CFG_B, backend: CFG_R }, lab: LAB });
  assert.deepEqual([chooseUrls(all).broker, chooseUrls(all).backend], [FLAG_B, FLAG_R]);
  const envCfg = chooseUrls({ ...all, flags: {} });
  assert.deepEqual([envCfg.broker, envCfg.backend, envCfg.brokerFrom.detail], [ENV_B, ENV_R, 'LAB_BROKER_URL']);
  const cfg = chooseUrls({ ...all, flags: {}, env: {} });
  assert.deepEqual([cfg.broker, cfg.backend, cfg.backendFrom.detail], [CFG_B, CFG_R, '--config c.js']);
  // Both URLs given by the user, from two of their own sources: that pairing is theirs to make, and -v shows it.
  const mixed = chooseUrls(inputs({ flags: { broker: FLAG_B }, env: { backend: ENV_R }, lab: LAB }));
  assert.deepEqual(urlSourceLines(mixed), ['broker  amqp://me:****@flag-host// (from --broker)', 'backend redis://env-host:6379/1 (from LAB_BACKEND_URL)']);
});

test('a config module that turns results off (CELERY_RESULT_BACKEND = null) is heard: no backend, and --wait says so', () => {
  const u = chooseUrls(inputs({ config: { file: './config.js', broker: CFG_B, backend: null }, lab: LAB }));
  assert.deepEqual([u.broker, u.backend, u.backendFrom.source], [CFG_B, null, 'config']);
  assert.equal(urlSourceLines(u)[1], 'backend none (--config ./config.js)');
  assert.throws(() => requireBackend(u, '--wait'), /^UsageError: --wait needs a result backend, and --config \.\/config\.js turns results off/);
});

test('nothing given and no lab: no broker, and the error lists every way to give one', () => {
  const u = chooseUrls(inputs({}));
  assert.deepEqual([u.broker, u.backend], [null, null]);
  assert.throws(() => requireBroker(u), (e: unknown) => hasCode(e, 'E_USAGE') && /--broker .*LAB_BROKER_URL.*--config.*lab up --hosts hosts\.yaml/.test((e as Error).message));
  assert.throws(() => requireBackend(u, 'lab result'), /^UsageError: lab result needs a result backend, and there is none: none given and no lab is up/);
});

test('empty environment variables count as unset', () => {
  const u = chooseUrls(inputs({ env: { broker: '', backend: '' }, lab: LAB }));
  assert.equal(u.brokerFrom.source, 'lab');
});

test('resolveUrls reads the active lab from LAB_HOME — and does not read its state at all when the user gave a URL', async (t) => {
  const lab = await fakeLab('urls-lab', { broker: 5999, backend: 6999 });
  const saved = process.env.LAB_HOME;
  process.env.LAB_HOME = lab.home;
  t.after(async () => {
    if (saved === undefined) delete process.env.LAB_HOME;
    else process.env.LAB_HOME = saved;
    await rm(lab.home, { recursive: true, force: true });
  });
  const fromLab = await resolveUrls({}, { env: {} });
  assert.deepEqual([fromLab.broker, fromLab.backend], [brokerUrl(lab.state, { byAddress: true }), backendUrl(lab.state, { byAddress: true })]);
  const env = await resolveUrls({}, { env: { LAB_BROKER_URL: ENV_B, LAB_BACKEND_URL: ENV_R } });
  assert.deepEqual([env.broker, env.backend], [ENV_B, ENV_R]);
  // A broken state would be an error if it were read; with --broker it is not read, and the backend is none.
  await writeFile(join(lab.dir, 'state.json'), '{ broken');
  const flag = await resolveUrls({ broker: FLAG_B }, { env: {} });
  assert.deepEqual([flag.broker, flag.backend], [FLAG_B, null]);
  assert.match(flag.backendFrom.detail, /the active lab's backend is never paired/);
  await assert.rejects(resolveUrls({}, { env: {} }), (e: unknown) => hasCode(e, 'E_CONFIG'));
});
