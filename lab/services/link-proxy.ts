/**
 * lab's link proxy (`lab link-proxy <spec>`): on a lab with `links: proxy`, each service host runs one, supervised,
 * listening on the host's lab address at each service's port, while the services themselves listen on the host's
 * loopback at the same port. Every connection a peer makes to a service therefore goes through it, and it knows the
 * peer by its address — so a slow-link fault (lab/faults/apply.ts) shapes a host's connections by writing a rule
 * file into this proxy's rules folder, and heals by removing it. No rule: bytes are written on at once.
 */
import { mkdir, readFile, readdir } from 'node:fs/promises';
import { watch } from 'node:fs';
import type { FSWatcher } from 'node:fs';
import { createServer, connect } from 'node:net';
import type { Server, Socket } from 'node:net';
import { ShapedPipe, parseRule, shapeFor } from './link-shaping.js';
import type { Direction, ShapingRule } from './link-shaping.js';

export interface LinkProxySpec {
  /** The host's lab address: where the proxy listens, and who "self" is in the rules. */
  address: string;
  /** One listener per service: the port peers use, and where the service itself listens. */
  ports: { service: string; port: number; target: { host: string; port: number } }[];
  /** Folder of rule files (`<fault id>.json`), written and removed by slow-link faults. */
  rulesDir: string;
}

/** Above this many bytes waiting in one direction, the sending side is paused (a slow link pushes back). */
const HIGH_WATER = 1 << 20;
/** A missed file event costs at most this long. */
const POLL_MS = 500;

export interface LinkProxy {
  /** The rules in effect now. */
  rules(): readonly ShapingRule[];
  /** Read the rules folder again now (tests). */
  reload(): Promise<void>;
  close(): Promise<void>;
}

/** The peer's address as the rules name it (an IPv4 peer of a dual-stack socket comes as ::ffff:a.b.c.d). */
function peerOf(s: Socket): string {
  return (s.remoteAddress ?? '').replace(/^::ffff:/, '');
}

export async function startLinkProxy(spec: LinkProxySpec, log: (line: string) => void = () => undefined): Promise<LinkProxy> {
  await mkdir(spec.rulesDir, { recursive: true, mode: 0o700 });
  let rules: ShapingRule[] = [];
  let loading: Promise<void> | null = null;
  const load = async (): Promise<void> => {
    const names = (await readdir(spec.rulesDir).catch(() => [] as string[])).filter((n) => n.endsWith('.json')).sort();
    const next: ShapingRule[] = [];
    for (const n of names) {
      const r = parseRule(await readFile(`${spec.rulesDir}/${n}`, 'utf8').catch(() => ''));
      // a file being written is read again at the next event or poll; until then its old rule (if any) stays
      const old = rules.find((x) => `${x.id}.json` === n);
      if (r) next.push(r);
      else if (old) next.push(old);
    }
    const before = rules.map((r) => r.id).join(',');
    rules = next;
    if (rules.map((r) => r.id).join(',') !== before) log(`rules: ${rules.length === 0 ? 'none' : rules.map((r) => `${r.id} ${r.address} +${r.delayMs}ms${r.rateBytesPerS ? ` ≤${r.rateBytesPerS}B/s` : ''}`).join('; ')}`);
  };
  const reload = (): Promise<void> => (loading ??= load().finally(() => (loading = null)));
  await reload();
  let watcher: FSWatcher | null = null;
  try {
    watcher = watch(spec.rulesDir, () => void reload());
  } catch {
    watcher = null; // the poll alone
  }
  const poll = setInterval(() => void reload(), POLL_MS);

  const sockets = new Set<Socket>();
  const pipe = (from: Socket, to: Socket, direction: Direction, self: string, peer: string): void => {
    const shaped = new ShapedPipe(
      (data) => {
        if (!to.write(data)) from.pause();
      },
      () => shapeFor(rules, self, peer, direction),
      undefined,
      () => {
        if (to.writableLength < HIGH_WATER) from.resume();
      },
    );
    to.on('drain', () => {
      if (shaped.queuedBytes < HIGH_WATER) from.resume();
    });
    from.on('data', (data: Buffer) => {
      shaped.push(data);
      if (shaped.queuedBytes >= HIGH_WATER) from.pause();
    });
    // a half-close travels after the last byte, as it would on the link
    from.on('end', () => void shaped.flushed().then(() => to.end()));
    from.on('close', () => shaped.close());
  };
  const servers: Server[] = [];
  for (const p of spec.ports) {
    const server = createServer({ allowHalfOpen: true, noDelay: true }, (client) => {
      const peer = peerOf(client);
      const upstream = connect({ host: p.target.host, port: p.target.port, allowHalfOpen: true, noDelay: true });
      for (const s of [client, upstream]) {
        sockets.add(s);
        s.on('error', () => undefined);
        s.on('close', () => {
          sockets.delete(s);
          client.destroy();
          upstream.destroy();
        });
      }
      pipe(client, upstream, 'in', spec.address, peer);
      pipe(upstream, client, 'out', spec.address, peer);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(p.port, spec.address, () => {
        server.off('error', reject);
        resolve();
      });
    });
    servers.push(server);
    log(`${p.service}: ${spec.address}:${p.port} → ${p.target.host}:${p.target.port}`);
  }
  return {
    rules: () => rules,
    reload,
    async close() {
      clearInterval(poll);
      watcher?.close();
      for (const s of sockets) s.destroy();
      await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
    },
  };
}
