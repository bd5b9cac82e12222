/**
 * The Debian mirror an image is built from: `--mirror`, else the one this machine's apt uses (so a lab behind a proxy
 * or on an air-gapped network with its own mirror builds from what it already trusts), else deb.debian.org.
 * Checked before anything is built: a mirror that does not answer is one line naming the URL (exit 2).
 */
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { LabError } from '../errors.js';

export const DEFAULT_MIRROR = 'http://deb.debian.org/debian';

export class MirrorError extends LabError {
  constructor(message: string, cause?: unknown) {
    super('E_MIRROR', message, { exitCode: 2, cause });
  }
}

/** The first `deb` URI serving `suite` from a deb822 .sources file or a one-line sources.list. */
export function mirrorFromSources(text: string, suite: string): string | null {
  // deb822: paragraphs of Field: value
  for (const para of text.split(/\n\s*\n/)) {
    const f = new Map<string, string>();
    for (const line of para.split('\n')) {
      const m = /^([A-Za-z-]+):\s*(.*)$/.exec(line);
      if (m) f.set(m[1]!.toLowerCase(), m[2]!.trim());
    }
    if (!f.has('uris')) continue;
    if ((f.get('enabled') ?? 'yes') === 'no' || !(f.get('types') ?? '').split(/\s+/).includes('deb')) continue;
    if (!(f.get('suites') ?? '').split(/\s+/).includes(suite)) continue;
    const uri = f.get('uris')!.split(/\s+/)[0];
    if (uri) return uri.replace(/\/+$/, '');
  }
  for (const line of text.split('\n')) {
    const m = /^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)\s/.exec(line);
    if (m && m[2] === suite) return m[1]!.replace(/\/+$/, '');
  }
  return null;
}

/** The mirror this machine's apt uses for `suite`, or deb.debian.org. */
export async function localMirror(suite: string, etc = '/etc/apt'): Promise<string> {
  const files = [join(etc, 'sources.list'), ...((await readdir(join(etc, 'sources.list.d')).catch(() => [])) as string[]).filter((n) => n.endsWith('.sources') || n.endsWith('.list')).sort().map((n) => join(etc, 'sources.list.d', n))];
  for (const f of files) {
    const text = await readFile(f, 'utf8').catch(() => null);
    const m = text === null ? null : mirrorFromSources(text, suite);
    if (m && !/security/.test(m)) return m;
  }
  return DEFAULT_MIRROR;
}

/** Does the mirror serve `suite`? Throws a MirrorError naming the URL that failed. */
export async function checkMirror(mirror: string, suite: string, timeoutMs = 15_000): Promise<void> {
  let url: string;
  try {
    url = new URL(`${mirror.replace(/\/+$/, '')}/dists/${suite}/Release`).href;
  } catch {
    throw new MirrorError(`not a mirror URL: ${JSON.stringify(mirror)} (e.g. ${DEFAULT_MIRROR})`);
  }
  if (!/^https?:$/.test(new URL(url).protocol)) throw new MirrorError(`${url}: debootstrap needs an http:// or https:// mirror`);
  let res: Response;
  try {
    res = await fetch(url, { method: 'HEAD', signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    const cause = (err as Error).cause as { code?: string; message?: string } | undefined;
    throw new MirrorError(`cannot reach the Debian mirror: ${url} (${cause?.code ?? cause?.message ?? (err as Error).message})`, err);
  }
  if (!res.ok) throw new MirrorError(`the Debian mirror answered ${res.status} for ${url} (no suite ${suite} there?)`);
}
