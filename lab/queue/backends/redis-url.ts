/**
 * Redis URLs as Celery writes them: redis://[[user]:password@]host[:port][/db][?socket_timeout=…&socket_connect_timeout=…]
 * (rediss:// for TLS; the database may also come as ?db=). Mistakes are UrlErrors, said before any connect.
 */
import { maskUrl } from '../../errors.js';
import { UrlError } from '../errors.js';

export interface RedisTarget {
  host: string;
  port: number;
  username?: string;
  password?: string;
  db: number;
  tls: boolean;
  /** From ?socket_timeout= / ?socket_connect_timeout= (seconds, as in Celery's Redis URLs). */
  socketTimeoutMs?: number;
  connectTimeoutMs?: number;
}

function secondsParam(u: URL, name: string, url: string): number | undefined {
  const v = u.searchParams.get(name);
  if (v === null || v === '') return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new UrlError(`bad ${name}=${JSON.stringify(v)} in ${maskUrl(url)} (expected seconds > 0)`);
  return Math.round(n * 1000);
}

export function parseRedisUrl(url: string): RedisTarget {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new UrlError(`not a Redis URL: ${maskUrl(url)} (expected redis://[:password@]host:port/db)`);
  }
  const scheme = u.protocol.replace(/:$/, '').toLowerCase();
  if (scheme !== 'redis' && scheme !== 'rediss') throw new UrlError(`not a Redis URL: ${maskUrl(url)} (expected redis:// or rediss://)`);
  const dbText = u.pathname.replace(/^\/+|\/+$/g, '') || u.searchParams.get('db') || '0';
  const db = Number(dbText);
  if (!Number.isInteger(db) || db < 0) throw new UrlError(`bad Redis database number "${dbText}" in ${maskUrl(url)}`);
  return {
    host: u.hostname.replace(/^\[|\]$/g, '') || 'localhost',
    port: u.port ? Number(u.port) : 6379,
    username: u.username ? decodeURIComponent(u.username) : undefined,
    password: u.password ? decodeURIComponent(u.password) : undefined,
    db,
    tls: scheme === 'rediss',
    socketTimeoutMs: secondsParam(u, 'socket_timeout', url),
    connectTimeoutMs: secondsParam(u, 'socket_connect_timeout', url),
  };
}
