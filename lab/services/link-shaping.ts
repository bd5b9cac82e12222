/**
 * What lab's link proxy (link-proxy.ts) does to the bytes of one direction of one connection while a slow-link fault
 * is in effect: pure logic, apart from sockets, so it is unit-tested with a fake clock.
 *
 * A rule means what tc netem on the slowed host's interface would: what that host SENDS is delayed by delayMs and,
 * with a rate, sent no faster than rateBytesPerS. So on a proxy in front of a service on host S, for a connection
 * from peer P: bytes P sends (towards the service) follow the rules for P's address; bytes S sends back follow the
 * rules for S's address. A connection from S to itself crosses no link (as with netem: loopback) and is not shaped.
 */

/** One slow-link fault as the proxies read it: `<rules dir>/<id>.json`. */
export interface ShapingRule {
  id: string;
  /** The slowed host's address. */
  address: string;
  delayMs: number;
  rateBytesPerS?: number;
}

export interface Shape {
  delayMs: number;
  /** Absent: no cap. */
  rateBytesPerS?: number;
}

export const NO_SHAPE: Shape = { delayMs: 0 };

/** 'in': what the peer sends to the service; 'out': what the service host sends back to the peer. */
export type Direction = 'in' | 'out';

/** The shape of one direction: the rules of the host that sends it; several faults add up (delays sum, the lowest rate wins). */
export function shapeFor(rules: readonly ShapingRule[], self: string, peer: string, direction: Direction): Shape {
  if (peer === self) return NO_SHAPE;
  const sender = direction === 'in' ? peer : self;
  const mine = rules.filter((r) => r.address === sender);
  if (mine.length === 0) return NO_SHAPE;
  const rates = mine.flatMap((r) => (r.rateBytesPerS !== undefined && r.rateBytesPerS > 0 ? [r.rateBytesPerS] : []));
  const shape: Shape = { delayMs: mine.reduce((n, r) => n + Math.max(0, r.delayMs), 0) };
  if (rates.length > 0) shape.rateBytesPerS = Math.min(...rates);
  return shape;
}

/** A rule file's content, checked: null when it is not one (half written, or not lab's). */
export function parseRule(text: string): ShapingRule | null {
  try {
    const r = JSON.parse(text) as Partial<ShapingRule>;
    if (typeof r.id !== 'string' || typeof r.address !== 'string' || typeof r.delayMs !== 'number' || !Number.isFinite(r.delayMs) || r.delayMs < 0) return null;
    if (r.rateBytesPerS !== undefined && !(typeof r.rateBytesPerS === 'number' && r.rateBytesPerS > 0)) return null;
    const out: ShapingRule = { id: r.id, address: r.address, delayMs: r.delayMs };
    if (r.rateBytesPerS !== undefined) out.rateBytesPerS = r.rateBytesPerS;
    return out;
  } catch {
    return null;
  }
}

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): { cancel(): void };
}

export const realClock: Clock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    return { cancel: () => clearTimeout(t) };
  },
};

/**
 * One direction of a connection as a link: each chunk leaves when the link is free (a rate makes a chunk take
 * bytes / rate to send — a token bucket with no burst), then arrives delayMs later; chunks never overtake one
 * another, even when a fault ends while earlier ones are still on their way. With no shape and nothing queued a
 * chunk is written at once: zero added delay outside a fault.
 */
export class ShapedPipe {
  readonly #queue: { at: number; data: Buffer }[] = [];
  #queued = 0;
  #linkFree = 0;
  #lastArrival = 0;
  #timer: { cancel(): void } | null = null;
  #closed = false;

  constructor(
    private readonly write: (data: Buffer) => void,
    private readonly shape: () => Shape,
    private readonly clock: Clock = realClock,
    /** Called when the queue has emptied (the source may resume). */
    private readonly onEmpty: () => void = () => undefined,
  ) {}

  /** Bytes waiting to be delivered: the caller pauses its source above a bound. */
  get queuedBytes(): number {
    return this.#queued;
  }

  push(data: Buffer): void {
    if (this.#closed || data.length === 0) return;
    const now = this.clock.now();
    const s = this.shape();
    if (s.delayMs === 0 && s.rateBytesPerS === undefined && this.#queue.length === 0) {
      this.#lastArrival = Math.max(this.#lastArrival, now);
      this.write(data);
      return;
    }
    // with a rate, pieces of at most ~20 ms of sending each, so the bytes flow rather than arrive in one lump
    const piece = s.rateBytesPerS !== undefined ? Math.max(512, Math.floor(s.rateBytesPerS / 50)) : data.length;
    for (let off = 0; off < data.length; off += piece) {
      const part = data.subarray(off, Math.min(data.length, off + piece));
      let sent = now;
      if (s.rateBytesPerS !== undefined) {
        sent = Math.max(now, this.#linkFree) + (part.length * 1000) / s.rateBytesPerS;
        this.#linkFree = sent;
      }
      const at = Math.max(sent + s.delayMs, this.#lastArrival);
      this.#lastArrival = at;
      this.#queue.push({ at, data: part });
      this.#queued += part.length;
    }
    this.#arm();
  }

  /** Resolves once everything queued has been written (for a half-close: end after the last byte). */
  flushed(): Promise<void> {
    if (this.#queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const prev = this.onEmptyExtra;
      this.onEmptyExtra = () => {
        prev();
        resolve();
      };
    });
  }

  private onEmptyExtra: () => void = () => undefined;

  /** Drop what is queued (the connection is gone). */
  close(): void {
    this.#closed = true;
    this.#timer?.cancel();
    this.#timer = null;
    this.#queue.length = 0;
    this.#queued = 0;
  }

  #arm(): void {
    if (this.#timer || this.#queue.length === 0) return;
    const wait = Math.max(0, this.#queue[0]!.at - this.clock.now());
    this.#timer = this.clock.setTimeout(() => {
      this.#timer = null;
      this.#deliver();
    }, wait);
  }

  #deliver(): void {
    const now = this.clock.now();
    while (!this.#closed && this.#queue.length > 0 && this.#queue[0]!.at <= now + 0.5) {
      const head = this.#queue.shift()!;
      this.#queued -= head.data.length;
      this.write(head.data);
    }
    if (this.#queue.length === 0) {
      this.onEmpty();
      const extra = this.onEmptyExtra;
      this.onEmptyExtra = () => undefined;
      extra();
    } else this.#arm();
  }
}
