/**
 * Where things are in an inventory file: YAML parsing with positions, the issue collector that turns paths into
 * file:line:column, and the aggregate InventoryError (a ConfigError, exit code 2).
 */
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument } from '../vendor/yaml.js';
import type { Document, Node, Pair } from 'yaml';
import { ConfigError } from '../errors.js';
import type { Seg } from './schema.js';

export interface InventoryIssue {
  file: string;
  line: number;
  column: number;
  /** Dotted field path as written in the file (e.g. hosts.HOST3.concurrency), when the problem has one. */
  field?: string;
  message: string;
}

function formatIssue(i: InventoryIssue): string {
  return `${i.file}:${i.line}:${i.column}: ${i.field ? `${i.field}: ` : ''}${i.message}`;
}

/**
 * Everything wrong with one inventory. `file`, `line`, `field` (and `column`) are those of the first issue in file
 * order; `issues` has them all. The message is the single issue, or a summary line followed by one line per issue.
 */
export class InventoryError extends ConfigError {
  readonly issues: readonly InventoryIssue[];
  readonly column?: number;

  constructor(file: string, issues: InventoryIssue[]) {
    const first = issues[0];
    super(first?.message ?? 'invalid inventory', { file, line: first?.line, field: first?.field });
    this.issues = issues;
    this.column = first?.column;
    this.message =
      issues.length === 1
        ? formatIssue(issues[0]!)
        : `${file}: ${issues.length} problems in the inventory:\n${issues.map((i) => `  ${formatIssue(i)}`).join('\n')}`;
  }
}

/** A field path for messages: hosts.HOST3.queues[1], hosts["bad name"].roles */
export function formatField(path: readonly Seg[]): string {
  let out = '';
  for (const s of path) {
    if (typeof s === 'number') out += `[${s}]`;
    else if (/^[A-Za-z0-9_-]+$/.test(s)) out += out ? `.${s}` : s;
    else out += `[${JSON.stringify(s)}]`;
  }
  return out;
}

/** A position and the field name to print for a path. */
export interface Where {
  offset: number;
  field?: string;
}

export type Locate = (path: readonly Seg[], at: 'key' | 'value') => Where;

export function unalias(node: unknown, doc: Document): unknown {
  let n = node;
  for (let i = 0; i < 20 && isAlias(n); i++) n = n.resolve(doc);
  return n;
}

/** The string form of a map key, as toJS would make it. */
export function keyString(key: unknown): string {
  if (isScalar(key)) return String(key.value);
  return String(key);
}

export function startOf(node: unknown): number | undefined {
  const r = (node as Node | null | undefined)?.range;
  return r ? r[0] : undefined;
}

/** A value node is "empty" when the YAML has nothing there (key: ⏎) — point at the key instead. */
function isEmptyValue(node: unknown): boolean {
  return !node || (isScalar(node) && node.value === null && (node.source === '' || node.source === undefined));
}

/** Find the pair for `key` in a map node (the last one, as toJS keeps the last duplicate). */
export function findPair(map: unknown, key: string): Pair | undefined {
  if (!isMap(map)) return undefined;
  let found: Pair | undefined;
  for (const p of map.items) if (keyString(p.key) === key) found = p as Pair;
  return found;
}

/** Locator for native files: walk the YAML tree along the path; fall back to the deepest node found. */
export function documentLocator(doc: Document): Locate {
  return (path, at) => {
    let node: unknown = doc.contents;
    let best = startOf(node) ?? 0;
    for (let i = 0; i < path.length; i++) {
      const seg = path[i]!;
      const last = i === path.length - 1;
      node = unalias(node, doc);
      if (isMap(node)) {
        const pair = findPair(node, String(seg));
        if (!pair) break;
        best = startOf(pair.key) ?? best;
        if (last && at === 'key') break;
        node = pair.value;
        if (!isEmptyValue(node)) best = startOf(node) ?? best;
      } else if (isSeq(node) && typeof seg === 'number') {
        const item = node.items[seg];
        if (!item) break;
        node = item;
        best = startOf(item) ?? best;
      } else break;
    }
    return { offset: best, field: formatField(path) || undefined };
  };
}

/** Collects errors and warnings with positions. */
export class Issues {
  readonly errors: (InventoryIssue & { offset: number; dataPath?: string })[] = [];
  readonly warnings: (InventoryIssue & { offset: number })[] = [];
  locate: Locate = () => ({ offset: 0 });
  /**
   * Set when the file's structure is broken (duplicate keys, a malformed Ansible group): hosts or roles may be
   * missing from the data, so whole-inventory checks (one broker, ≥ 1 workers…) would only add noise.
   */
  structural = false;

  constructor(
    readonly file: string,
    readonly lines: LineCounter,
  ) {}

  private make(where: Where, message: string): InventoryIssue & { offset: number } {
    const pos = this.lines.linePos(where.offset);
    return { file: this.file, line: pos.line, column: pos.col, field: where.field, message, offset: where.offset };
  }

  /** An error at a path of the (native-shaped) data. */
  error(path: readonly Seg[], at: 'key' | 'value', message: string): void {
    this.errors.push({ ...this.make(this.locate(path, at), message), dataPath: formatField(path) });
  }

  /** An error at a known position; `structural` marks it as one that may hide hosts or roles. */
  errorAt(where: Where, message: string, structural = false): void {
    this.errors.push(this.make(where, message));
    if (structural) this.structural = true;
  }

  warn(path: readonly Seg[], at: 'key' | 'value', message: string): void {
    this.warnings.push(this.make(this.locate(path, at), message));
  }

  /** Has an error been reported at this path or below it? */
  hasErrorUnder(path: readonly Seg[]): boolean {
    const f = formatField(path);
    return this.errors.some((e) => e.dataPath !== undefined && (e.dataPath === f || e.dataPath.startsWith(`${f}.`) || e.dataPath.startsWith(`${f}[`)));
  }

  /** Throw an InventoryError listing every error in file order (duplicates dropped). */
  throwIfAny(): void {
    if (this.errors.length === 0) return;
    const seen = new Set<string>();
    const list = [...this.errors]
      .sort((a, b) => a.offset - b.offset)
      .filter((e) => {
        const k = `${e.offset}\u0000${e.field}\u0000${e.message}`;
        if (seen.has(k)) return false;
        seen.add(k);
        return true;
      })
      .map(({ offset: _offset, dataPath: _dataPath, ...rest }) => rest);
    throw new InventoryError(this.file, list);
  }

  warningLines(): string[] {
    const lines = [...this.warnings].sort((a, b) => a.offset - b.offset).map((w) => formatIssue(w));
    return [...new Set(lines)];
  }
}

export interface ParsedYaml {
  doc: Document;
  lines: LineCounter;
}

/**
 * Parse YAML keeping positions. Duplicate keys are not a parse error here (uniqueKeys: false) so that
 * `duplicateKeys` can report them with their field path. `<<` merge keys are allowed.
 */
export function parseYaml(text: string, version: '1.1' | '1.2' = '1.2'): ParsedYaml {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: false, merge: true, prettyErrors: false, version });
  return { doc, lines };
}

/** Report YAML syntax errors. Returns true when there were any. */
export function reportSyntax(p: ParsedYaml, issues: Issues): boolean {
  for (const e of p.doc.errors) {
    const msg = e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
    issues.errorAt({ offset: e.pos[0] }, `YAML syntax error: ${msg}`);
  }
  return p.doc.errors.length > 0;
}

/** Report every duplicate key in every mapping, at the later occurrence. */
export function reportDuplicateKeys(p: ParsedYaml, issues: Issues, fieldOf: (path: Seg[]) => string = formatField): void {
  const seenNodes = new Set<unknown>();
  const walk = (node: unknown, path: Seg[]): void => {
    if (!node || seenNodes.has(node) || isAlias(node)) return;
    seenNodes.add(node);
    if (isMap(node)) {
      const first = new Map<string, number>();
      for (const pair of node.items) {
        const k = keyString(pair.key);
        if (k === '<<') continue;
        const off = startOf(pair.key) ?? 0;
        const prev = first.get(k);
        if (prev !== undefined) {
          issues.errorAt(
            { offset: off, field: fieldOf([...path, k]) },
            `expected each key once, got ${JSON.stringify(k)} again (first on line ${p.lines.linePos(prev).line})`,
            true,
          );
        } else first.set(k, off);
        walk(pair.value, [...path, k]);
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, i) => walk(item, [...path, i]));
    }
  };
  walk(p.doc.contents, []);
}
