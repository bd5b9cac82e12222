/**
 * The lab's own pinned host keys: `<stateDir>/known_hosts` (mode 0600), in OpenSSH's format so that
 * `ssh -o UserKnownHostsFile=<stateDir>/known_hosts …` agrees with lab:
 *
 *     198.18.210.11 ssh-ed25519 AAAAC3Nz…            (port 22)
 *     [pi1.local]:2222 ssh-ed25519 AAAAC3Nz…         (other ports)
 *
 * First contact accepts the key and records it (accept-new); later contacts must offer the same key, or the
 * connection is refused. Checking is never turned off. To accept a deliberately changed key, delete its line.
 * Pure Node (no ssh2 types): the ssh adapter hands the raw public key blob over.
 */
import { createHash } from 'node:crypto';
import { chmod, mkdir, open, readFile } from 'node:fs/promises';
import { dirname, posix } from 'node:path';

export interface HostKeyInfo {
  /** Key type from the blob, e.g. ssh-ed25519, ecdsa-sha2-nistp256, ssh-rsa. */
  type: string;
  /** OpenSSH-style fingerprint: `SHA256:` + unpadded base64 of the blob's SHA-256. */
  fingerprint: string;
  /** The blob in base64 (the third field of a known_hosts line). */
  base64: string;
}

export type HostKeyVerdict =
  | { status: 'match'; offered: HostKeyInfo }
  | { status: 'new'; offered: HostKeyInfo }
  | { status: 'changed'; offered: HostKeyInfo; expected: HostKeyInfo[] };

/** Type and fingerprint of a public key blob (SSH wire format: string type, then type-specific fields). */
export function hostKeyInfo(blob: Buffer): HostKeyInfo {
  let type = 'unknown';
  if (blob.length >= 4) {
    const len = blob.readUInt32BE(0);
    if (len > 0 && len < 64 && 4 + len <= blob.length) type = blob.subarray(4, 4 + len).toString('latin1');
  }
  return { type, fingerprint: fingerprintOf(blob), base64: blob.toString('base64') };
}

export function fingerprintOf(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** The host field OpenSSH writes: `host` for port 22, `[host]:port` otherwise. */
export function knownHostsPattern(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

/** Host key algorithms ssh2 should offer for a pinned key type (RSA keys sign with several algorithms). */
export function algorithmsForKeyType(type: string): string[] {
  if (type === 'ssh-rsa') return ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'];
  return [type];
}

interface Line {
  pattern: string;
  type: string;
  base64: string;
}

function parse(text: string): Line[] {
  const out: Line[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const [pattern, type, base64] = line.split(/\s+/);
    if (!pattern || !type || !base64 || pattern.startsWith('|') || pattern.startsWith('@')) continue; // hashed/marker lines: not ours
    out.push({ pattern, type, base64 });
  }
  return out;
}

const writeQueues = new Map<string, Promise<unknown>>();

/** The lab's own known_hosts file (it outlives lab down). */
export function knownHostsFile(stateDir: string): string {
  return posix.join(stateDir, 'known_hosts');
}

export class KnownHosts {
  constructor(readonly file: string) {}

  private async lines(): Promise<Line[]> {
    try {
      return parse(await readFile(this.file, 'utf8'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
  }

  /** Key types pinned for host:port (to steer the key exchange towards them). */
  async pinnedTypes(host: string, port: number): Promise<string[]> {
    const p = knownHostsPattern(host, port);
    return [...new Set((await this.lines()).filter((l) => l.pattern.split(',').includes(p)).map((l) => l.type))];
  }

  /** Compare an offered key with what is pinned for host:port. */
  async check(host: string, port: number, blob: Buffer): Promise<HostKeyVerdict> {
    const offered = hostKeyInfo(blob);
    const p = knownHostsPattern(host, port);
    const pinned = (await this.lines()).filter((l) => l.pattern.split(',').includes(p));
    if (pinned.length === 0) return { status: 'new', offered };
    if (pinned.some((l) => l.type === offered.type && l.base64 === offered.base64)) return { status: 'match', offered };
    const expected = pinned.map((l) => {
      const b = Buffer.from(l.base64, 'base64');
      return { type: l.type, fingerprint: fingerprintOf(b), base64: l.base64 };
    });
    return { status: 'changed', offered, expected };
  }

  /** Record a key for host:port (append; the file is created 0600, kept 0600). Writes are serialized. */
  async pin(host: string, port: number, blob: Buffer): Promise<void> {
    const info = hostKeyInfo(blob);
    const line = `${knownHostsPattern(host, port)} ${info.type} ${info.base64}\n`;
    const run = async (): Promise<void> => {
      // Someone (another lab host on the same address) may have pinned it meanwhile: do not duplicate.
      const again = await this.check(host, port, blob);
      if (again.status === 'match') return;
      await mkdir(dirname(this.file), { recursive: true, mode: 0o700 });
      const fh = await open(this.file, 'a', 0o600);
      try {
        await fh.chmod(0o600);
        await fh.write(line);
        await fh.sync();
      } finally {
        await fh.close();
      }
    };
    const prev = writeQueues.get(this.file) ?? Promise.resolve();
    const p = prev.then(run, run);
    writeQueues.set(this.file, p.catch(() => undefined));
    return p;
  }

  /** Make sure the file is not readable by others (called on open). */
  async tighten(): Promise<void> {
    await chmod(this.file, 0o600).catch(() => undefined);
  }
}
