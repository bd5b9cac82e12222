/**
 * JSON as Celery peers write and read it.
 * - Decoding: Python's json emits NaN / Infinity / -Infinity by default; JSON.parse rejects them. The fast path is
 *   JSON.parse; only when that fails and the text holds one of those bare tokens do we re-read it with them mapped
 *   back to numbers.
 * - Encoding stays strict JSON (NaN and ±Infinity become null, as JSON.stringify does), so every peer can read it.
 * - pythonJson spells a value as Python's json.dumps does, where the bytes must equal a Python peer's (chord parts).
 */
import { decodeMsgpack } from './msgpack-codec.js';

const NON_FINITE_MARK = '\u0000lab-nf:';

export function decodeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    if (!/NaN|Infinity/.test(text)) throw err;
    const rewritten = rewriteNonFinite(text);
    if (rewritten === text) throw err;
    return JSON.parse(rewritten, (_key, value: unknown) => {
      if (typeof value === 'string' && value.startsWith(NON_FINITE_MARK)) {
        const token = value.slice(NON_FINITE_MARK.length);
        return token === 'NaN' ? NaN : token === '-Infinity' ? -Infinity : Infinity;
      }
      return value;
    });
  }
}

/** Replace bare NaN/Infinity/-Infinity tokens outside strings with marked strings. */
function rewriteNonFinite(text: string): string {
  let out = '';
  let i = 0;
  let last = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === '"') {
      i++;
      while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
      i++;
      continue;
    }
    const token = c === 'N' ? (text.startsWith('NaN', i) ? 'NaN' : undefined) : c === 'I' ? (text.startsWith('Infinity', i) ? 'Infinity' : undefined) : c === '-' && text.startsWith('-Infinity', i) ? '-Infinity' : undefined;
    if (token) {
      out += text.slice(last, i) + JSON.stringify(NON_FINITE_MARK + token);
      i += token.length;
      last = i;
      continue;
    }
    i++;
  }
  return last === 0 ? text : out + text.slice(last);
}

export function encodeJson(value: unknown): string {
  const text = JSON.stringify(value);
  // JSON.stringify(undefined) is undefined; Python's None is the closest meaning.
  return text === undefined ? 'null' : text;
}

/**
 * A value encoded already (a result, by a pool child): encoders splice it in place instead of parsing and re-encoding
 * a large value on the worker's main thread. JSON text, or — with result_serializer msgpack — msgpack bytes (then
 * `json` is empty and `value()` reads the bytes).
 */
export class EncodedResult {
  constructor(
    readonly json: string,
    readonly msgpack?: Uint8Array,
  ) {}

  value(): unknown {
    return this.msgpack ? decodeMsgpack(this.msgpack) : decodeJson(this.json);
  }
}

/** Python's json.dumps text (", " and ": " separators, ASCII-only strings), so chord members match Python's bytes. */
export function pythonJson(value: unknown): string {
  if (value instanceof EncodedResult) return value.msgpack ? pythonJson(value.value()) : value.json;
  if (value === null || value === undefined) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number': {
      if (!Number.isFinite(value)) return 'null'; // as encodeJson: strict JSON every peer can read
      return String(value).replace(/e([+-])(\d)$/, 'e$10$2'); // 1e-7 → 1e-07 as Python's repr writes it
    }
    case 'bigint':
      return value.toString();
    case 'string':
      return pythonString(value);
    case 'object': {
      const withJson = value as { toJSON?: () => unknown };
      if (typeof withJson.toJSON === 'function') return pythonJson(withJson.toJSON());
      if (Array.isArray(value)) return `[${value.map((v) => (v === undefined || typeof v === 'function' ? 'null' : pythonJson(v))).join(', ')}]`;
      const parts: string[] = [];
      for (const [k, v] of Object.entries(value)) {
        if (v === undefined || typeof v === 'function' || typeof v === 'symbol') continue;
        parts.push(`${pythonString(k)}: ${pythonJson(v)}`);
      }
      return `{${parts.join(', ')}}`;
    }
    default:
      return 'null';
  }
}

function pythonString(s: string): string {
  return JSON.stringify(s).replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
