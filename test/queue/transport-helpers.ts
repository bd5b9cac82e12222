/** Helpers the transport tests share: waiting, polling, and URL surgery for refused credentials and proxies. */
import assert from 'node:assert/strict';
import type { ConnectionStatus } from '../../lab/queue/connection.js';

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Poll a condition (broker statistics may lag a little); fail with the last value. */
export async function eventually<T>(read: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 3000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = await read();
  while (!ok(last)) {
    if (Date.now() > deadline) assert.fail(`condition not reached within ${timeoutMs} ms; last value: ${JSON.stringify(last)}`);
    await sleep(25);
    last = await read();
  }
  return last;
}

/** The URL with these credentials instead of its own. */
export function withPassword(url: string, user: string, password: string): string {
  return url.replace(/^([a-z]+:\/\/)([^@/]*@)?/i, `$1${user}:${password}@`);
}

/** The URL pointing at another port of the same host (a proxy in front of the server). */
export function urlPort(url: string, port: number): string {
  return url.replace(/@([^:/]+):\d+/, `@$1:${port}`).replace(/^(redis:\/\/)([^@/:]+):\d+/, `$1$2:${port}`);
}

/** Resolve once the connection reports `want`; fail after timeoutMs naming the status it is in. */
export function waitForStatus(c: { status: ConnectionStatus; on(e: 'status', l: (s: ConnectionStatus) => void): unknown; off(e: 'status', l: (s: ConnectionStatus) => void): unknown }, want: ConnectionStatus, timeoutMs = 10_000): Promise<void> {
  if (c.status === want) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      c.off('status', on);
      reject(new Error(`status ${want} not reached within ${timeoutMs} ms (now ${c.status})`));
    }, timeoutMs);
    const on = (s: ConnectionStatus): void => {
      if (s !== want) return;
      clearTimeout(timer);
      c.off('status', on);
      resolve();
    };
    c.on('status', on);
  });
}
