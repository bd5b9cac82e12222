/**
 * /etc/hosts content as pure text functions. A lab that owns the whole file (netns: /etc/netns/<ns>/hosts; docker:
 * the container's) writes `hostsFile`; on a machine of the user's (ssh) only the lab's block is edited:
 *
 *     # BEGIN lab book
 *     198.18.0.11 HOST1
 *     …
 *     # END lab book
 *
 * Everything outside the block is kept byte for byte. A second write replaces the block; removing it restores
 * the rest. A host's own name is never mapped to a 127.x address (services must bind to its lab address).
 */
import { isIP } from 'node:net';
import { LabError } from '../errors.js';
import { HOSTNAME_PATTERN } from '../topology/patterns.js';
import type { HostsEntry } from './provider.js';

const HOSTNAME_RE = new RegExp(HOSTNAME_PATTERN);

export class HostsFileError extends LabError {
  constructor(message: string) {
    super('E_HOSTS_FILE', message);
  }
}

export function beginMarker(lab: string): string {
  return `# BEGIN lab ${lab}`;
}

export function endMarker(lab: string): string {
  return `# END lab ${lab}`;
}

/** One line per entry for `self` (the host whose file it is). Validates every address and name. */
export function entryLines(self: string, entries: readonly HostsEntry[]): string[] {
  const lines: string[] = [];
  for (const e of entries) {
    if (isIP(e.address) === 0) throw new HostsFileError(`not an IP address: ${JSON.stringify(e.address)}`);
    for (const n of e.names) if (!HOSTNAME_RE.test(n)) throw new HostsFileError(`not a host name: ${JSON.stringify(n)}`);
    // A host's own name on a loopback address would make its services bind where no other host can reach them.
    const loopback = e.address.startsWith('127.') || e.address === '::1';
    const names = e.names.filter((n) => !(loopback && n.toLowerCase() === self.toLowerCase()));
    if (names.length > 0) lines.push(`${e.address} ${names.join(' ')}`);
  }
  return lines;
}

/** A whole hosts file the lab owns: localhost, then every entry. */
export function hostsFile(self: string, entries: readonly HostsEntry[]): string {
  return `${['127.0.0.1 localhost', '::1 localhost ip6-localhost ip6-loopback', ...entryLines(self, entries)].join('\n')}\n`;
}

/** The lab's block for `self`. */
export function hostsBlock(lab: string, self: string, entries: readonly HostsEntry[]): string[] {
  return [beginMarker(lab), ...entryLines(self, entries), endMarker(lab)];
}

/** [start, end] line indexes of the lab's block, or null. Throws on a BEGIN without its END. */
function findBlock(lines: string[], lab: string): [number, number] | null {
  const b = lines.findIndex((l) => l.trim() === beginMarker(lab));
  if (b < 0) return null;
  const e = lines.findIndex((l, i) => i > b && l.trim() === endMarker(lab));
  if (e < 0) throw new HostsFileError(`found "${beginMarker(lab)}" without "${endMarker(lab)}": fix the file by hand`);
  return [b, e];
}

/** The file with the lab's block replaced (or appended when there is none). */
export function replaceHostsBlock(text: string, lab: string, block: readonly string[]): string {
  const lines = text.split('\n');
  const trailingNewline = text.endsWith('\n');
  if (trailingNewline) lines.pop();
  const at = findBlock(lines, lab);
  if (at) lines.splice(at[0], at[1] - at[0] + 1, ...block);
  else {
    if (text === '') lines.length = 0;
    lines.push(...block);
  }
  return `${lines.join('\n')}\n`;
}

/** The file without the lab's block (unchanged when it has none). */
export function removeHostsBlock(text: string, lab: string): string {
  const lines = text.split('\n');
  const trailingNewline = text.endsWith('\n');
  if (trailingNewline) lines.pop();
  const at = findBlock(lines, lab);
  if (!at) return text;
  lines.splice(at[0], at[1] - at[0] + 1);
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
}
