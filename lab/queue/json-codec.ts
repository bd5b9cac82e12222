/**
 * JSON as Celery peers write it. Python's json emits NaN / Infinity / -Infinity by default; JSON.parse rejects them.
 * Decoding: the fast path is JSON.parse; only when that fails and the text holds one of those bare tokens do we
 * re-read it with them mapped back to numbers. Encoding stays strict JSON (NaN and ±Infinity become null, as
 * JSON.stringify does), so every peer can read what we write.
 */
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
