/**
 * lab's link proxy on loopback, with real sockets: a service on 127.0.0.1:P, the proxy on 127.0.0.2:P (the layout
 * of a `links: proxy` host). Bytes pass both ways untouched and in order; a rule file for the peer adds its delay
 * to what the peer sends, removing it ends that; a half-close reaches the service; a service that is down closes
 * the peer's connection.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { startLinkProxy } from '../../lab/services/link-proxy.js';

async function listen(server: Server, host: string, port = 0): Promise<number> {
  await new Promise<void>((r) => server.listen(port, host, r));
  return (server.address() as { port: number }).port;
}

async function open(port: number): Promise<Socket> {
  const s = connect({ host: '127.0.0.2', port, allowHalfOpen: true });
  await new Promise<void>((r, j) => s.once('connect', r).once('error', j));
  return s;
}

/** Send `text` and wait for `n` bytes back: the time it took, and what came. */
async function roundTrip(s: Socket, text: string, n = text.length): Promise<{ ms: number; got: string }> {
  const t = performance.now();
  let got = '';
  await new Promise<void>((r) => {
    const on = (d: Buffer): void => {
      got += d.toString();
      if (got.length >= n) {
        s.off('data', on);
        r();
      }
    };
    s.on('data', on);
    s.write(text);
  });
  return { ms: performance.now() - t, got };
}

test('the link proxy: bytes pass untouched; a rule delays what the peer sends, until its file is removed', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'lab-link-proxy-'));
  const ended: string[] = [];
  const echo = createServer({ allowHalfOpen: true }, (s) => {
    let all = '';
    s.on('data', (d) => {
      all += d.toString();
      s.write(d);
    });
    s.on('end', () => {
      ended.push(all);
      s.end();
    });
  });
  const port = await listen(echo, '127.0.0.1');
  const proxy = await startLinkProxy({ address: '127.0.0.2', ports: [{ service: 'echo', port, target: { host: '127.0.0.1', port } }], rulesDir: join(dir, 'rules') });
  t.after(async () => {
    await proxy.close();
    echo.close();
    await rm(dir, { recursive: true, force: true });
  });

  const s = await open(port);
  const big = 'x'.repeat(300_000) + 'end';
  assert.equal((await roundTrip(s, big)).got, big, 'a large write arrives whole and in order');
  const before = (await roundTrip(s, 'ping')).ms;

  await writeFile(join(dir, 'rules', 'f1.json'), JSON.stringify({ id: 'f1', address: '127.0.0.1', delayMs: 150 }));
  await proxy.reload();
  assert.deepEqual(proxy.rules().map((r) => r.id), ['f1']);
  const during = await roundTrip(s, 'slow');
  assert.equal(during.got, 'slow');
  assert.ok(during.ms >= 145, `the rule's 150 ms were added to an open connection: ${during.ms.toFixed(1)} ms`);

  // a rule for another host leaves this peer alone
  await rm(join(dir, 'rules', 'f1.json'));
  await writeFile(join(dir, 'rules', 'f2.json'), JSON.stringify({ id: 'f2', address: '198.19.0.99', delayMs: 500 }));
  await proxy.reload();
  const after = (await roundTrip(s, 'fast')).ms;
  assert.ok(after < 140, `healed: ${after.toFixed(1)} ms (before the fault ${before.toFixed(1)} ms)`);

  s.end();
  await new Promise((r) => s.once('close', r));
  for (let i = 0; i < 50 && ended.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(ended[0], `${big}pingslowfast`, 'the half-close reached the service after every byte');
});

test('a service that is not listening: the peer is closed at once', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'lab-link-proxy-'));
  const probe = createServer();
  const port = await listen(probe, '127.0.0.1');
  await new Promise((r) => probe.close(r)); // nothing on 127.0.0.1:port now
  const proxy = await startLinkProxy({ address: '127.0.0.2', ports: [{ service: 'none', port, target: { host: '127.0.0.1', port } }], rulesDir: join(dir, 'rules') });
  t.after(async () => {
    await proxy.close();
    await rm(dir, { recursive: true, force: true });
  });
  const s = await open(port);
  // the proxy closes its side (a FIN): this half-open socket sees the end
  await new Promise((r) => s.once('end', r));
  s.destroy();
});
