/**
 * The serializers lab speaks, by Celery's names and content types (kombu's registry): `json`
 * (application/json, utf-8) and `msgpack` (application/x-msgpack, binary). A message is always decoded by its own
 * content_type, whatever the reader's serializer; pickle and yaml have no codec here, so they are never decoded
 * (the worker refuses them with ContentDisallowed).
 */
import { decodeJson, encodeJson } from './json-codec.js';
import { decodeMsgpack, encodeMsgpack } from './msgpack-codec.js';
import { utf8Text } from './utf8-text.js';

export type SerializerName = 'json' | 'msgpack';

export const SERIALIZERS: readonly SerializerName[] = ['json', 'msgpack'];

export const JSON_CONTENT_TYPE = 'application/json';
export const MSGPACK_CONTENT_TYPE = 'application/x-msgpack';

export interface Codec {
  readonly name: SerializerName;
  readonly contentType: string;
  /** kombu's content_encoding: utf-8 for text, binary for msgpack. */
  readonly contentEncoding: string;
  encode(value: unknown): Buffer;
  /** Throws when the bytes are not this serializer's (the caller names what it was decoding). */
  decode(bytes: Uint8Array): unknown;
}

const JSON_CODEC: Codec = {
  name: 'json',
  contentType: JSON_CONTENT_TYPE,
  contentEncoding: 'utf-8',
  encode: (value) => Buffer.from(encodeJson(value), 'utf8'),
  decode: (bytes) => decodeJson(utf8Text(bytes, { fatal: true })),
};

const MSGPACK_CODEC: Codec = {
  name: 'msgpack',
  contentType: MSGPACK_CONTENT_TYPE,
  contentEncoding: 'binary',
  encode: encodeMsgpack,
  decode: decodeMsgpack,
};

const BY_NAME: Record<SerializerName, Codec> = { json: JSON_CODEC, msgpack: MSGPACK_CODEC };

export function isSerializerName(name: unknown): name is SerializerName {
  return name === 'json' || name === 'msgpack';
}

export function codecFor(name: SerializerName): Codec {
  return BY_NAME[name];
}

/** The codec of a content type, or null: never decoded (pickle, yaml, none given). */
export function codecForContentType(contentType: string | undefined): Codec | null {
  const ct = (contentType ?? '').trim().toLowerCase();
  if (ct === JSON_CONTENT_TYPE) return JSON_CODEC;
  if (ct === MSGPACK_CONTENT_TYPE) return MSGPACK_CODEC;
  return null;
}

/** The content types an accept_content list names (Celery takes serializer names or content types). */
export function acceptedContentTypes(accept: readonly string[]): Set<string> {
  const out = new Set<string>();
  for (const a of accept) {
    const v = a.trim().toLowerCase();
    out.add(isSerializerName(v) ? BY_NAME[v].contentType : v);
  }
  return out;
}

/**
 * A stored value's serializer, told by its first byte: Celery's backends store a meta (a map) or a chord part (an
 * array) bare, without a content type. JSON text starts with an ASCII byte (`{`, `[`, a space); every msgpack map
 * and array head is 0x80 or above — so the two never overlap.
 */
export function storedCodec(bytes: Uint8Array): Codec {
  return bytes.length > 0 && bytes[0] >= 0x80 ? MSGPACK_CODEC : JSON_CODEC;
}
