/**
 * Small, deterministic formatting helpers shared by the renderers. Nothing here reads the clock or the locale:
 * the same record always renders to the same bytes.
 */

function trimZeros(s: string): string {
  return s.includes('.') ? s.replace(/\.?0+$/, '') : s;
}

/**
 * Milliseconds for people, three significant figures:
 * ≥ 1 s → "1.23 s" / "12.3 s" / "123 s"; ≥ 1 ms → "345 ms" / "34.5 ms" / "3.45 ms"; below → "0.18 ms";
 * below 0.01 ms → microseconds ("4.20 µs"). Non-finite or negative input → "—".
 */
export function formatMs(ms: number | undefined | null): string {
  if (ms === undefined || ms === null || !Number.isFinite(ms) || ms < 0) return '—';
  if (ms === 0) return '0 ms';
  const sig3 = (x: number): string => {
    if (x >= 99.95) return x.toFixed(0);
    if (x >= 9.995) return x.toFixed(1);
    return x.toFixed(2);
  };
  // Decide the unit on the rounded value so 999.6 ms prints "1.00 s", not "1000 ms".
  if (Number(sig3(ms)) >= 1000) return `${sig3(ms / 1000)} s`;
  if (ms >= 1) return `${sig3(ms)} ms`;
  if (ms >= 0.01 || Number((ms * 1000).toFixed(2)) >= 10) return `${ms.toFixed(2)} ms`;
  return `${(ms * 1000).toFixed(2)} µs`;
}

/** A ratio as "3.21×" (two decimals below 10, one below 100, none above). */
export function formatRatio(r: number | undefined | null): string {
  if (r === undefined || r === null || Number.isNaN(r)) return '—';
  if (!Number.isFinite(r)) return '∞×';
  if (r >= 99.95) return `${r.toFixed(0)}×`;
  if (r >= 9.995) return `${r.toFixed(1)}×`;
  return `${r.toFixed(2)}×`;
}

/** A number for machine-readable output (CSV/JSON): at most 6 decimals, no trailing zeros, no exponent for normal sizes. */
export function formatNumber(x: number | undefined | null): string {
  if (x === undefined || x === null || Number.isNaN(x)) return '';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  if (Number.isInteger(x)) return String(x);
  const r = Math.round(x * 1e6) / 1e6;
  const s = Math.abs(r) >= 1e21 || (Math.abs(r) < 1e-6 && r !== 0) ? String(r) : trimZeros(r.toFixed(6));
  return s === '-0' ? '0' : s;
}

/** Round to 6 decimals (JSON output), keeping non-finite values as null (JSON has no Infinity). */
export function round6(x: number | undefined | null): number | null {
  if (x === undefined || x === null || !Number.isFinite(x)) return null;
  const r = Math.round(x * 1e6) / 1e6;
  return Object.is(r, -0) ? 0 : r;
}

function paramValue(v: unknown): string {
  if (v === null || v === undefined) return String(v);
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (Array.isArray(v)) return v.map(paramValue).join(',');
  return JSON.stringify(v);
}

/** Parameters as "n=4 size=100000" (keys in their given order; arrays comma-joined); "" for none. */
export function formatParams(params: Record<string, unknown> | undefined, maxLen = 60): string {
  if (!params) return '';
  const s = Object.entries(params)
    .map(([k, v]) => `${k}=${paramValue(v)}`)
    .join(' ');
  return s.length > maxLen ? `${s.slice(0, maxLen - 1)}…` : s;
}

/** An ISO timestamp as "2026-11-27 13:22Z" (UTC, minutes). Unparseable input is returned as given. */
export function formatWhen(iso: string): string {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  const d = new Date(t).toISOString();
  return `${d.slice(0, 10)} ${d.slice(11, 16)}Z`;
}

/** A run's name for people: its label when it has one, else its id. */
export function runName(r: { id: string; label?: string }): string {
  return r.label ? `${r.label} (${r.id})` : r.id;
}
