/**
 * MessagePack as Celery peers write and read it: kombu's msgpack serializer is `packb(s, use_bin_type=True)` and
 * `unpackb(raw=False)` (Debian's python3-msgpack 1.0), so
 * - strings travel as msgpack str (UTF-8) and byte arrays (Uint8Array/Buffer) as bin — Python's str and bytes;
 * - maps have string (or integer) keys and decode to plain objects; arrays and tuples are arrays;
 * - a safe JavaScript integer goes as the smallest msgpack int (int64/uint64 beyond 32 bits: Python gets an int),
 *   any other number as float64 (NaN and ±Infinity too, which JSON cannot carry). Not `useBigInt64`: with it the
 *   library writes integers beyond 32 bits as floats. A bigint is refused, as JSON.stringify refuses it;
 * - 64-bit integers are read as numbers, exact up to 2^53 — as JSON.parse reads large ints, so a task sees the same
 *   value whichever serializer carried it;
 * - Dates travel as msgpack's timestamp extension (Python reads a msgpack.Timestamp); undefined is nil (None).
 * One Encoder per process, reused: it keeps its buffer between calls.
 */
// The package's ESM build, named by path: its package.json has no "exports", so the bare name loads the CommonJS
// build — and importing CommonJS from ESM starts Node's CJS loader and its WebAssembly export lexer, ~5 MB of
// every pool child's memory for this one module (issue 13).
import { Decoder, Encoder } from '@msgpack/msgpack/dist.esm/index.mjs';

const encoder = new Encoder();
const decoder = new Decoder();

/** The encoded bytes, as a Buffer over its own memory (the encoder's buffer is reused by the next call). */
export function encodeMsgpack(value: unknown): Buffer {
  const bytes = encoder.encode(value);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export function decodeMsgpack(bytes: Uint8Array): unknown {
  return decoder.decode(bytes);
}
