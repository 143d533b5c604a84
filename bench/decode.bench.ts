/**
 * OTLP trace decode throughput on one core: spanstat's wire-level decoder vs protobufjs's full
 * decode of the same bodies (and the JSON path for reference).
 *
 *   npx tsx bench/decode.bench.ts [seconds-per-round=2]
 *
 * Bodies come from the real OTel JS encoder (otlp-transformer) over a realistic mix of http
 * server, pg-pool.connect, pg query (~150-char SQL) and Redis spans, 512 spans per batch.
 */
import { decodeTracesJson } from '../src/receiver/decode-json';
import { decodeTracesProtobuf } from '../src/receiver/decode-protobuf';
import { batchMix } from '../test/fixtures/otlp/batch-mix';
import { jsonBody, protobufBody } from '../test/fixtures/otlp/spans';
import { countSpansWithProtobufjs } from '../test/fixtures/otlp/trace-proto';

const SPANS_PER_BATCH = 512;
const BATCHES = 16;
const ROUNDS = 5;
const roundSeconds = Number(process.argv[2] ?? 2);

const protoBodies: Buffer[] = [];
const jsonBodies: string[] = [];
for (let i = 0; i < BATCHES; i++) {
  const spans = batchMix(SPANS_PER_BATCH, i + 1);
  protoBodies.push(protobufBody(spans));
  jsonBodies.push(jsonBody(spans));
}
const protoBytes = protoBodies.reduce((n, b) => n + b.length, 0);
const jsonBytes = jsonBodies.reduce((n, b) => n + Buffer.byteLength(b), 0);

interface Candidate {
  name: string;
  /** Decodes one body, returns the span count (used so the work cannot be optimised away). */
  run(i: number): number;
}

const candidates: Candidate[] = [
  { name: 'spanstat decodeTracesProtobuf', run: (i) => decodeTracesProtobuf(protoBodies[i]).length },
  { name: 'protobufjs full decode', run: (i) => countSpansWithProtobufjs(protoBodies[i]) },
  { name: 'spanstat decodeTracesJson', run: (i) => decodeTracesJson(jsonBodies[i]).length },
];

function measure(c: Candidate): number {
  let spans = 0;
  let i = 0;
  const deadline = process.hrtime.bigint() + BigInt(Math.round(roundSeconds * 1e9));
  const t0 = process.hrtime.bigint();
  let now = t0;
  while (now < deadline) {
    spans += c.run(i);
    i = (i + 1) % BATCHES;
    now = process.hrtime.bigint();
  }
  return spans / (Number(now - t0) / 1e9);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

// Warm-up: let V8 optimise every candidate before timing.
for (const c of candidates) for (let k = 0; k < 200; k++) c.run(k % BATCHES);

const results = new Map<string, number[]>(candidates.map((c) => [c.name, []]));
for (let r = 0; r < ROUNDS; r++) for (const c of candidates) results.get(c.name)?.push(measure(c));

const perSpanProto = protoBytes / (BATCHES * SPANS_PER_BATCH);
const perSpanJson = jsonBytes / (BATCHES * SPANS_PER_BATCH);
console.log(
  `node ${process.version}; ${BATCHES} batches × ${SPANS_PER_BATCH} spans; ` +
    `${perSpanProto.toFixed(0)} B/span protobuf, ${perSpanJson.toFixed(0)} B/span JSON; ` +
    `median of ${ROUNDS} × ${roundSeconds}s rounds`,
);
const medians = new Map<string, number>();
for (const [name, xs] of results) {
  const m = median(xs);
  medians.set(name, m);
  const range = `${Math.round(Math.min(...xs) / 1e3)}k–${Math.round(Math.max(...xs) / 1e3)}k`;
  console.log(`${name.padEnd(32)} ${Math.round(m / 1e3)}k spans/s  (range ${range})`);
}
const ours = medians.get('spanstat decodeTracesProtobuf') ?? 0;
const theirs = medians.get('protobufjs full decode') ?? 1;
console.log(`ratio spanstat / protobufjs: ${(ours / theirs).toFixed(2)}x`);
