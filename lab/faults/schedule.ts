/**
 * The fault schedule language (`lab run --faults`, a file or an inline string; `lab fault` builds one statement):
 *
 *   kill      SERVICE[@HOST]               at T
 *   restart   SERVICE[@HOST]               at T
 *   pause     SERVICE[@HOST]               at T [for D]
 *   partition HOST from HOST               at T [for D]
 *   slow      HOST by D [rate R]           at T [for D]
 *
 * Statements end with `;` or a new line; `#` starts a comment. T and D are durations: 500ms, 2s, 1.5s, 3m, 1h.
 * R is a bandwidth: 100kbit, 1mbit, 10mbit, 64kbps (bytes). SERVICE is rabbitmq, redis, workers, quotes or a
 * service of the hosts' `services:`. A mistake names its line and column and the bad token (exit 2).
 */
import { FAULT_KINDS, FaultError } from './fault.js';
import type { Fault, FaultKind } from './fault.js';

interface Token {
  text: string;
  line: number;
  col: number;
}

const NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,62}$/;

function tokenize(source: string): Token[][] {
  const statements: Token[][] = [];
  let current: Token[] = [];
  const lines = source.split('\n');
  lines.forEach((raw, i) => {
    const text = raw.replace(/#.*$/, '');
    const re = /;|[^\s;]+/g;
    for (let m = re.exec(text); m; m = re.exec(text)) {
      if (m[0] === ';') {
        if (current.length) statements.push(current);
        current = [];
      } else current.push({ text: m[0], line: i + 1, col: m.index + 1 });
    }
    if (current.length) statements.push(current);
    current = [];
  });
  return statements;
}

/** A duration in ms: 250ms, 2s, 1.5s, 3m, 1h. Null when it is not one. */
export function parseDuration(text: string): number | null {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(text);
  if (!m) return null;
  const n = Number(m[1]);
  const ms = n * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
  return Number.isFinite(ms) ? Math.round(ms) : null;
}

/** A bandwidth in bytes/s: 100kbit, 1mbit, 10mbit, 1gbit, 64kbps, 2mbps. Null when it is not one. */
export function parseRate(text: string): number | null {
  const m = /^(\d+(?:\.\d+)?)(kbit|mbit|gbit|kbps|mbps)$/i.exec(text);
  if (!m) return null;
  const n = Number(m[1]);
  const unit = m[2]!.toLowerCase();
  const bytes = { kbit: 125, mbit: 125_000, gbit: 125_000_000, kbps: 1000, mbps: 1_000_000 }[unit as 'kbit'] * n;
  return bytes > 0 ? Math.round(bytes) : null;
}

class Parser {
  private i = 0;
  constructor(
    private readonly toks: Token[],
    private readonly where: string,
    private readonly end: { line: number; col: number },
  ) {}

  fail(expected: string, tok: Token | undefined = this.toks[this.i]): never {
    const at = tok ? `${tok.line}:${tok.col}` : `${this.end.line}:${this.end.col}`;
    const got = tok ? `got ${JSON.stringify(tok.text)}` : 'the statement ended';
    throw new FaultError('E_FAULT_SCHEDULE', `${this.where}${at}: expected ${expected}, ${got}`);
  }

  peek(): Token | undefined {
    return this.toks[this.i];
  }

  next(expected: string): Token {
    const t = this.toks[this.i];
    if (!t) this.fail(expected);
    this.i++;
    return t;
  }

  word(w: string): void {
    const t = this.next(`"${w}"`);
    if (t.text.toLowerCase() !== w) this.fail(`"${w}"`, t);
  }

  duration(after: string): number {
    const t = this.next(`a duration like 2s or 500ms after "${after}"`);
    const ms = parseDuration(t.text);
    if (ms === null) this.fail(`a duration like 2s or 500ms after "${after}"`, t);
    return ms;
  }

  name(what: string): Token {
    const t = this.next(what);
    if (!NAME.test(t.text)) this.fail(what, t);
    return t;
  }

  done(): boolean {
    return this.i >= this.toks.length;
  }
}

function statementText(toks: Token[]): string {
  return toks.map((t) => t.text).join(' ');
}

function parseStatement(toks: Token[], where: string): Fault {
  const last = toks[toks.length - 1]!;
  // typed so that p.fail() (never) narrows
  const p: Parser = new Parser(toks, where, { line: last.line, col: last.col + last.text.length });
  const kindTok = p.next(`a fault kind (${FAULT_KINDS.join(', ')})`);
  const kind = kindTok.text.toLowerCase() as FaultKind;
  if (!FAULT_KINDS.includes(kind)) p.fail(`a fault kind (${FAULT_KINDS.join(', ')})`, kindTok);
  const fault: Fault = { kind, atMs: 0, text: statementText(toks) };
  if (kind === 'kill' || kind === 'restart' || kind === 'pause') {
    const t = p.next('a service like workers@HOST3 or rabbitmq');
    const m = /^([A-Za-z][A-Za-z0-9_-]{0,62})(?:@([A-Za-z][A-Za-z0-9_.-]{0,62}))?$/.exec(t.text);
    if (!m) p.fail('a service like workers@HOST3 or rabbitmq', t);
    fault.service = m[2] ? { service: m[1]!, host: m[2] } : { service: m[1]! };
  } else if (kind === 'partition') {
    fault.host = p.name('a host name like HOST3').text;
    p.word('from');
    fault.from = p.name('a host name like HOST1 after "from"').text;
    if (fault.from.toLowerCase() === fault.host.toLowerCase()) p.fail('another host than the first', toks[3]);
  } else {
    fault.host = p.name('a host name like HOST3').text;
    p.word('by');
    fault.delayMs = p.duration('by');
    if (p.peek()?.text.toLowerCase() === 'rate') {
      p.next('rate');
      const t = p.next('a bandwidth like 1mbit or 100kbit after "rate"');
      const r = parseRate(t.text);
      if (r === null) p.fail('a bandwidth like 1mbit or 100kbit after "rate"', t);
      fault.rateBytesPerS = r;
    }
  }
  p.word('at');
  fault.atMs = p.duration('at');
  if (!p.done()) {
    const t = p.peek()!;
    if (t.text.toLowerCase() !== 'for') p.fail(fault.kind === 'kill' || fault.kind === 'restart' ? 'the end of the statement (";")' : '"for" or the end of the statement', t);
    if (kind === 'kill' || kind === 'restart') p.fail(`the end of the statement: ${kind} is an instant (the supervisor restarts the service); hold a service down with "pause"`, t);
    p.next('for');
    fault.forMs = p.duration('for');
    if (fault.forMs <= 0) p.fail('a duration above 0 after "for"', toks[toks.length - 1]);
  }
  if (!p.done()) p.fail('the end of the statement (";")');
  return fault;
}

/**
 * Parse a schedule. `where` prefixes messages ("faults.txt:" or "--faults "). Faults come back ordered by start
 * time (stable: the same start keeps the written order). An empty schedule is a mistake too.
 */
export function parseSchedule(source: string, where = ''): Fault[] {
  const statements = tokenize(source);
  if (statements.length === 0) throw new FaultError('E_FAULT_SCHEDULE', `${where}expected at least one fault like "kill workers@HOST3 at 1s", got nothing`);
  const faults = statements.map((s) => parseStatement(s, where));
  return faults.map((f, i) => ({ f, i })).sort((a, b) => a.f.atMs - b.f.atMs || a.i - b.i).map((x) => x.f);
}

/** The end of the last fault of a schedule (ms from the run's start): how long a run should at least last. */
export function scheduleEndMs(faults: readonly Fault[]): number {
  return faults.reduce((m, f) => Math.max(m, f.atMs + (f.forMs ?? 0)), 0);
}
