/**
 * What a task's payload costs to encode and decode, json vs msgpack, in ONE run (issue 13): the mergesort 1M ints
 * case — a client encodes 4 task bodies of 250,000 ints (protocol v2, buildTaskMessage) and the worker decodes them
 * (decodeBody, as a pool child does); a worker encodes each sorted chunk's result meta (encodeMeta of a pool child's
 * encoded result) and the client decodes it (decodeStored) — and the echo task's small body. Interleaved, after a
 * warm-up; medians of --repeat samples; bytes on the wire too. CPU only: no broker (bench/runtime has the round trips).
 *
 *   node dist/bench/serializers.js [--repeat 15] [--size 1000000] [--n 4] [--json]
 */
import { performance } from 'node:perf_hooks';
import { EncodedResult, SERIALIZERS, buildTaskMessage, dateDone, decodeBody, decodeStored, encodeJson, encodeMeta, encodeMsgpack } from '../lab/queue/index.js';
import type { SerializerName } from '../lab/queue/index.js';
import { shuffledRange, split } from '../scenarios/mergesort/mergesort.js';
import { summarize } from '../lab/report/statistics.js';
import { formatMs, formatRatio } from '../lab/report/format.js';

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

const REPEAT = flag('repeat', 15);
const SIZE = flag('size', 1_000_000);
const N = flag('n', 4);

interface Step {
  name: string;
  run(s: SerializerName): number; // bytes moved (for the table), timed around the call
}

const chunks = split(shuffledRange(SIZE, 1), N);
const sorted = chunks.map((c) => [...c].sort((a, b) => a - b));
const types = (s: SerializerName): string => (s === 'json' ? 'application/json' : 'application/x-msgpack');
const bodies = new Map(SERIALIZERS.map((s) => [s, chunks.map((c) => buildTaskMessage('mergesort.sort', { args: [c], serializer: s }).body)]));
// A pool child's result, encoded where it ran: the JSON text, or (result_serializer msgpack) the msgpack bytes.
const childResults = new Map(SERIALIZERS.map((s) => [s, sorted.map((c) => (s === 'json' ? new EncodedResult(encodeJson(c)) : new EncodedResult('', encodeMsgpack(c))))]));
const metaOf = (result: unknown) => ({ status: 'SUCCESS' as const, result, traceback: null, children: [], date_done: dateDone(), task_id: 'bench' });
const stored = new Map(SERIALIZERS.map((s) => [s, childResults.get(s)!.map((r) => encodeMeta(metaOf(r), s))]));

const steps: Step[] = [
  { name: `client: encode ${N} task bodies (${SIZE.toLocaleString('en')} ints)`, run: (s) => chunks.reduce((n, c) => n + buildTaskMessage('mergesort.sort', { args: [c], serializer: s }).body.length, 0) },
  { name: 'worker: decode the bodies (pool child)', run: (s) => bodies.get(s)!.reduce((n, b) => n + (decodeBody(b, 'bench', types(s)).args.length, b.length), 0) },
  { name: 'worker: encode the sorted results (pool child)', run: (s) => sorted.reduce((n, c) => n + (s === 'json' ? encodeJson(c).length : encodeMsgpack(c).length), 0) },
  { name: 'worker: the result metas (main thread, result spliced)', run: (s) => childResults.get(s)!.reduce((n, r) => n + encodeMeta(metaOf(r), s).length, 0) },
  { name: 'client: decode the result metas', run: (s) => stored.get(s)!.reduce((n, v) => n + ((decodeStored(v) as { result: unknown[] }).result.length, v.length), 0) },
  { name: 'echo: encode + decode one body', run: (s) => { const b = buildTaskMessage('test.echo', { args: ['Python rocks!'], serializer: s }).body; decodeBody(b, 'bench', types(s)); return b.length; } },
];

const samples = new Map<string, number[]>();
const bytes = new Map<string, number>();
for (let r = 0; r < REPEAT + 2; r++) {
  for (const step of steps) {
    for (const s of r % 2 === 0 ? SERIALIZERS : [...SERIALIZERS].reverse()) {
      const reps = step.name.startsWith('echo') ? 1000 : 1;
      const t0 = performance.now();
      let b = 0;
      for (let k = 0; k < reps; k++) b = step.run(s);
      const ms = (performance.now() - t0) / reps;
      if (r < 2) continue; // warm-up
      const key = `${step.name}|${s}`;
      samples.set(key, [...(samples.get(key) ?? []), ms]);
      bytes.set(key, b);
    }
  }
}

const out: Record<string, { json: number; msgpack: number; ratio: number; jsonBytes: number; msgpackBytes: number }> = {};
const lines = [`payload cost, json vs msgpack (@msgpack/msgpack), medians of ${REPEAT} interleaved samples · node ${process.version}`, ''];
let totals = { json: 0, msgpack: 0 };
for (const step of steps) {
  const j = summarize(samples.get(`${step.name}|json`)!).median;
  const m = summarize(samples.get(`${step.name}|msgpack`)!).median;
  out[step.name] = { json: j, msgpack: m, ratio: m / j, jsonBytes: bytes.get(`${step.name}|json`)!, msgpackBytes: bytes.get(`${step.name}|msgpack`)! };
  if (!step.name.startsWith('echo')) totals = { json: totals.json + j, msgpack: totals.msgpack + m };
  lines.push(`${step.name.padEnd(58)} json ${formatMs(j).padStart(9)}  msgpack ${formatMs(m).padStart(9)}  msgpack/json ${formatRatio(m / j).padStart(6)}  bytes ${out[step.name].jsonBytes.toLocaleString('en')} vs ${out[step.name].msgpackBytes.toLocaleString('en')}`);
}
lines.push('');
lines.push(`mergesort ${SIZE.toLocaleString('en')} ints, n=${N}, payload encode+decode in all: json ${formatMs(totals.json)}, msgpack ${formatMs(totals.msgpack)} — msgpack/json ${formatRatio(totals.msgpack / totals.json)}`);
process.stdout.write(`${lines.join('\n')}\n`);
if (process.argv.includes('--json')) process.stdout.write(`${JSON.stringify({ steps: out, mergesortTotal: { ...totals, ratio: totals.msgpack / totals.json } })}\n`);
