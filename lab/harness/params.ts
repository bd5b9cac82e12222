/**
 * Scenario parameters from the command line: validated against the scenario's declared specs (each error names
 * the flag and the bad value), comma lists expanded into sweep points (every combination, in order).
 */
import { UsageError } from '../errors.js';
import type { ParamSpec } from '../../scenarios/scenario.js';

export type ParamValue = number | string | string[];

export interface ParsedParams {
  /** As given: a swept parameter holds its list of values. */
  given: Record<string, ParamValue | number[]>;
  /** One entry per combination of swept values. */
  points: Record<string, ParamValue>[];
}

function flag(name: string, spec: ParamSpec): string {
  return spec.positional ? name.toUpperCase() : `--${name}`;
}

function parseNumber(name: string, spec: ParamSpec, raw: string): number {
  const text = raw.trim().replace(/_/g, '');
  const value = Number(text);
  const kind = spec.type === 'int' ? 'an integer' : 'a number';
  const bounds = [spec.min !== undefined ? `≥ ${spec.min}` : '', spec.max !== undefined ? `≤ ${spec.max}` : ''].filter(Boolean).join(' and ');
  const expected = `${kind}${bounds ? ` ${bounds}` : ''}`;
  if (text === '' || !Number.isFinite(value) || (spec.type === 'int' && !Number.isInteger(value))) {
    throw new UsageError(`${flag(name, spec)}: expected ${expected}, got ${JSON.stringify(raw)}`);
  }
  if ((spec.min !== undefined && value < spec.min) || (spec.max !== undefined && value > spec.max)) {
    throw new UsageError(`${flag(name, spec)}: expected ${expected}, got ${raw.trim()}`);
  }
  return value;
}

function parseString(name: string, spec: ParamSpec, raw: string): string {
  if (spec.pattern && !spec.pattern.test(raw)) {
    throw new UsageError(`${flag(name, spec)}: ${JSON.stringify(raw)} is not ${spec.patternHint ?? `of the form ${spec.pattern}`}`);
  }
  return raw;
}

function parseOne(name: string, spec: ParamSpec, raw: string): number | string {
  return spec.type === 'string' ? parseString(name, spec, raw) : parseNumber(name, spec, raw);
}

/**
 * `raw` maps each param name to what the command line gave (string, string[] for lists/positionals, or undefined).
 */
export function parseParams(specs: Record<string, ParamSpec>, raw: Record<string, unknown>): ParsedParams {
  const given: ParsedParams['given'] = {};
  const axes: [string, (number | string)[]][] = [];
  const fixed: Record<string, ParamValue> = {};
  for (const [name, spec] of Object.entries(specs)) {
    const value = raw[name];
    if (spec.list) {
      const items = value === undefined || (Array.isArray(value) && value.length === 0) ? (spec.default as string[]) : (Array.isArray(value) ? value : [value]).map(String);
      const parsed = items.map((s) => parseString(name, spec, s));
      given[name] = parsed;
      fixed[name] = parsed;
      continue;
    }
    if (Array.isArray(value) && value.length > 1) throw new UsageError(`${flag(name, spec)} was given ${value.length} times; give it once${spec.sweep ? ' (a comma list sweeps it: 1,2,4)' : ''}`);
    const text = value === undefined || (Array.isArray(value) && value.length === 0) ? String(spec.default) : String(Array.isArray(value) ? value[0] : value);
    if (spec.sweep && text.includes(',')) {
      const parts = text.split(',').map((s) => s.trim());
      if (parts.some((p) => p === '')) throw new UsageError(`${flag(name, spec)}: empty value in the list ${JSON.stringify(text)}`);
      const values = parts.map((p) => parseOne(name, spec, p));
      const seen = new Set(values);
      if (seen.size !== values.length) throw new UsageError(`${flag(name, spec)}: the list ${JSON.stringify(text)} repeats a value`);
      given[name] = values as number[];
      axes.push([name, values]);
    } else if (!spec.sweep && spec.type !== 'string' && text.includes(',')) {
      throw new UsageError(`${flag(name, spec)} takes one value, got the list ${JSON.stringify(text)}`);
    } else {
      const v = parseOne(name, spec, text);
      given[name] = v;
      fixed[name] = v;
    }
  }
  let points: Record<string, ParamValue>[] = [{ ...fixed }];
  for (const [name, values] of axes) points = points.flatMap((p) => values.map((v) => ({ ...p, [name]: v })));
  // Keep the declared order of keys in every point.
  const order = Object.keys(specs);
  points = points.map((p) => Object.fromEntries(order.map((k) => [k, p[k]])));
  return { given, points };
}
