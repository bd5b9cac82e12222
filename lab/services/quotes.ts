/** Deterministic quotes: the same pair always has the same price, so runs can be verified. */

export const DEFAULT_PAIRS = ['EURUSD', 'CHFUSD', 'GBPUSD', 'GBPEUR', 'CADUSD', 'CADEUR'];

export const PAIR_PATTERN = /^[A-Z]{6}$/;

/** A price in [0.5, 2.0) with 4 decimals, from an FNV-1a hash of the pair. */
export function quotePrice(pair: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < pair.length; i++) {
    h ^= pair.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return Math.round((0.5 + (h / 4294967296) * 1.5) * 10_000) / 10_000;
}
