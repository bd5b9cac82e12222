/**
 * A slow-link fault through lab's link proxy (a lab with `links: proxy`, services/link-proxy.ts): a rule file
 * `<fault id>.json` in the rules folder of every host's proxy, naming the slowed host's address; each proxy shapes
 * the connections that cross that host's link (link-shaping.ts). Healed by removing the files. Built apart from
 * running them, as data, so the ledger holds the heal steps and tests read the steps.
 */
import { posix } from 'node:path';
import type { ShapingRule } from '../services/link-shaping.js';
import type { FaultStep } from './fault-steps.js';

export function proxySlowSteps(rulesDirs: readonly { host: string; dir: string }[], rule: ShapingRule, slowed: string): { apply: FaultStep[]; heal: FaultStep[] } {
  const what = `link proxy: ${slowed} (${rule.address}) +${rule.delayMs}ms${rule.rateBytesPerS !== undefined ? ` at most ${rule.rateBytesPerS} B/s` : ''}`;
  const apply: FaultStep[] = rulesDirs.map(({ host, dir }) => ({ op: 'write', host, path: posix.join(dir, `${rule.id}.json`), content: `${JSON.stringify(rule)}\n`, what }));
  const heal: FaultStep[] = rulesDirs.map(({ host, dir }) => ({ op: 'exec', host, argv: ['rm', '-f', posix.join(dir, `${rule.id}.json`)], what: `${what}: rule removed` }));
  return { apply, heal };
}
