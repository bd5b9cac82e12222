/**
 * The Redis backend's two Lua scripts, each one atomic round trip (redis-keys.ts has the key layout). They are
 * registered as commands of the command connection (ioredis sends EVALSHA, and the script itself when Redis lacks it).
 */
import type { Redis } from 'ioredis';

/**
 * Store a task's meta unless a SUCCESS is stored already (Celery reads the current state before every write),
 * and publish it on the key's channel.
 *   KEYS[1]  celery-task-meta-<task id>
 *   ARGV[1]  the meta (JSON, or msgpack bytes)
 *   ARGV[2]  time to live in seconds; 0 or less = no expiry (SET instead of SETEX)
 * Returns 1 when stored and published, 0 when a stored SUCCESS was kept.
 */
const STORE_LUA = `
local cur = redis.call('GET', KEYS[1])
-- A cheap scan first (a stored result may be large); decode only when a "status": "SUCCESS" pair appears somewhere,
-- to be sure it is the top-level one. Undecodable but matching: keep it (never overwrite what may be a success).
-- A msgpack meta (result_serializer msgpack; its first byte is a map head, >= 0x80) has the pair as the fixstr
-- "status" followed by the fixstr "SUCCESS".
if cur and string.byte(cur, 1) and string.byte(cur, 1) >= 128 then
  if string.find(cur, '\\166status\\167SUCCESS', 1, true) then
    local ok, m = pcall(cmsgpack.unpack, cur)
    if not ok or (type(m) == 'table' and m['status'] == 'SUCCESS') then return 0 end
  end
elseif cur and string.find(cur, '"status"%s*:%s*"SUCCESS"') then
  local ok, m = pcall(cjson.decode, cur)
  if not ok or (type(m) == 'table' and m['status'] == 'SUCCESS') then return 0 end
end
local ttl = tonumber(ARGV[2])
if ttl and ttl > 0 then
  redis.call('SETEX', KEYS[1], ttl, ARGV[1])
else
  redis.call('SET', KEYS[1], ARGV[1])
end
redis.call('PUBLISH', KEYS[1], ARGV[1])
return 1
`;

/**
 * Celery's on_chord_part_return in one atomic step: ZADD, ZCOUNT, GET .t/.s, EXPIRE; and when the count reaches
 * size + t, ZRANGE and DEL in the same step, so exactly one caller ever sees the chord complete (a duplicate
 * delivery of a part between the count and the cleanup cannot complete it twice).
 *   KEYS[1]  celery-taskset-meta-<group id>.j   sorted set of finished parts
 *   KEYS[2]  celery-taskset-meta-<group id>.t   an extra count Celery may add to the size
 *   KEYS[3]  celery-taskset-meta-<group id>.s   header size
 *   ARGV[1]  the part: Python's json.dumps([1, task id, state, result]), byte for byte (a redelivery adds nothing)
 *   ARGV[2]  its score: the part's group_index ('+inf' when it has none)
 *   ARGV[3]  time to live of the three keys in seconds; 0 or less = leave them
 * Returns {count, -1} before the size is known, {count, total} while incomplete, and {count, total, parts} exactly
 * once, parts being ZRANGE … WITHSCORES (member, score, member, score, …).
 */
const CHORD_JOIN_LUA = `
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
local count = redis.call('ZCOUNT', KEYS[1], '-inf', '+inf')
local t = redis.call('GET', KEYS[2])
local s = redis.call('GET', KEYS[3])
local ttl = tonumber(ARGV[3])
if ttl and ttl > 0 then
  redis.call('EXPIRE', KEYS[1], ttl)
  redis.call('EXPIRE', KEYS[2], ttl)
  redis.call('EXPIRE', KEYS[3], ttl)
end
if not s then return {count, -1} end
local total = (tonumber(s) or 0) + (tonumber(t) or 0)
if count ~= total then return {count, total} end
local parts = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
return {count, total, parts}
`;

/** The scripts as commands of a client (arguments in KEYS, then ARGV order). */
export interface LabCommands {
  labStore(key: string, value: string | Buffer, ttl: string): Promise<number>;
  /** ioredis's Buffer variant of the script command: replies as bytes (msgpack parts are not text). */
  labChordJoinBuffer(jkey: string, tkey: string, skey: string, member: string | Buffer, score: string, ttl: string): Promise<[number, number, Buffer[]?]>;
}

export function defineLabCommands(client: Redis): Redis & LabCommands {
  client.defineCommand('labStore', { numberOfKeys: 1, lua: STORE_LUA });
  client.defineCommand('labChordJoin', { numberOfKeys: 3, lua: CHORD_JOIN_LUA });
  return client as Redis & LabCommands;
}
