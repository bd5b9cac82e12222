/**
 * Reading AMQP header tables that Python peers write. py-amqp (Celery's client) writes an integer outside int32 with
 * the tag 'L' (signed int64); amqplib has no 'L' and throws while decoding the frame, which closes the connection —
 * and the same message is redelivered on every reconnect, so one Celery message with a large header integer would
 * keep a lab worker off the broker for good. This module teaches amqplib's table decoder 'L' (and py-amqp's 'U',
 * a signed int16) without touching anything else: amqplib's own decoder runs first; only a table it cannot read is
 * decoded again here. It must be evaluated before amqplib's protocol definitions load (the adapter imports it first).
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);

interface Codec {
  decodeFields(slice: Buffer): Record<string, unknown>;
  __labPyAmqp?: boolean;
}

type Reader = { offset: number };

function readValue(slice: Buffer, r: Reader): unknown {
  const tag = String.fromCharCode(slice[r.offset++]);
  let len: number;
  let val: unknown;
  switch (tag) {
    case 'b':
      val = slice.readInt8(r.offset);
      r.offset += 1;
      return val;
    case 'B':
      val = slice.readUInt8(r.offset);
      r.offset += 1;
      return val;
    case 's':
    case 'U':
      val = slice.readInt16BE(r.offset);
      r.offset += 2;
      return val;
    case 'u':
      val = slice.readUInt16BE(r.offset);
      r.offset += 2;
      return val;
    case 'I':
      val = slice.readInt32BE(r.offset);
      r.offset += 4;
      return val;
    case 'i':
      val = slice.readUInt32BE(r.offset);
      r.offset += 4;
      return val;
    case 'l':
    case 'L':
      val = Number(slice.readBigInt64BE(r.offset));
      r.offset += 8;
      return val;
    case 'f':
      val = slice.readFloatBE(r.offset);
      r.offset += 4;
      return val;
    case 'd':
      val = slice.readDoubleBE(r.offset);
      r.offset += 8;
      return val;
    case 'D': {
      const places = slice[r.offset];
      const digits = slice.readUInt32BE(r.offset + 1);
      r.offset += 5;
      return { '!': 'decimal', value: { places, digits } };
    }
    case 'T':
      val = Number(slice.readBigUInt64BE(r.offset));
      r.offset += 8;
      return { '!': 'timestamp', value: val };
    case 'S':
      len = slice.readUInt32BE(r.offset);
      r.offset += 4;
      val = slice.toString('utf8', r.offset, r.offset + len);
      r.offset += len;
      return val;
    case 'x':
      len = slice.readUInt32BE(r.offset);
      r.offset += 4;
      val = slice.subarray(r.offset, r.offset + len);
      r.offset += len;
      return val;
    case 't':
      return slice[r.offset++] !== 0;
    case 'V':
      return null;
    case 'F':
      len = slice.readUInt32BE(r.offset);
      r.offset += 4;
      val = decodeTable(slice.subarray(r.offset, r.offset + len));
      r.offset += len;
      return val;
    case 'A': {
      len = slice.readUInt32BE(r.offset);
      r.offset += 4;
      const until = r.offset + len;
      const out: unknown[] = [];
      while (r.offset < until) out.push(readValue(slice, r));
      return out;
    }
    default:
      throw new TypeError(`Unexpected type tag "${tag}"`);
  }
}

/** A field table, as amqplib decodes it, plus py-amqp's 'L' and 'U'. */
export function decodeTable(slice: Buffer): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  const r: Reader = { offset: 0 };
  while (r.offset < slice.length) {
    const len = slice.readUInt8(r.offset);
    r.offset += 1;
    const key = slice.toString('utf8', r.offset, r.offset + len);
    r.offset += len;
    fields[key] = readValue(slice, r);
  }
  return fields;
}

function install(): void {
  let codecPath: string;
  try {
    codecPath = join(dirname(require.resolve('amqplib')), 'lib', 'codec.js');
  } catch {
    return;
  }
  const codec = require(codecPath) as Codec;
  if (codec.__labPyAmqp) return;
  const original = codec.decodeFields;
  codec.decodeFields = function decodeFields(slice: Buffer): Record<string, unknown> {
    try {
      return original(slice);
    } catch (err) {
      if (err instanceof TypeError && /Unexpected type tag/.test(err.message)) return decodeTable(slice);
      throw err;
    }
  };
  codec.__labPyAmqp = true;
}

install();
