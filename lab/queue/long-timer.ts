/**
 * A timer for any delay. Node's setTimeout caps a delay at 2³¹−1 ms (about 24.8 days) and fires a longer one at
 * once with a TimeoutOverflowWarning — a countdown or ETA of a month would run immediately. This one waits in steps
 * of at most that cap and re-checks the clock at each step, so it fires when the due time has come, never before.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export interface LongTimer {
  /** When it fires, epoch ms. */
  readonly dueAt: number;
  clear(): void;
}

/** Call `fn` once the clock reaches `dueAt` (epoch ms); at once if it already has. */
export function setLongTimeout(fn: () => void, dueAt: number, clock: Clock = realClock): LongTimer {
  let handle: unknown = null;
  let cleared = false;
  const step = (): void => {
    if (cleared) return;
    const left = dueAt - clock.now();
    if (left <= 0) {
      handle = null;
      fn();
      return;
    }
    handle = clock.setTimeout(step, Math.min(left, MAX_TIMER_MS));
  };
  step();
  return {
    dueAt,
    clear() {
      cleared = true;
      if (handle !== null) clock.clearTimeout(handle);
    },
  };
}
