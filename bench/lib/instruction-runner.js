// Runs under valgrind for bench/instructions.ts: feeds recorded OTLP bodies through a built sidecar
// (`dist` given on the command line) and exits. Plain JavaScript so that nothing is compiled while
// instructions are counted. Usage: node instruction-runner.js <distDir> <bodiesFile> <decode|pipeline> <rounds>
'use strict';
const { readFileSync } = require('node:fs');

const [dist, bodiesFile, mode, roundsArg] = process.argv.slice(2);
const rounds = Number(roundsArg);
// A fixed clock: window rotation and slice stamps must not depend on when the run happens.
const FIXED_NOW = 1_790_000_000_000;
Date.now = () => FIXED_NOW;

const BODIES_PER_ROUND = 160;
const all = readFileSync(bodiesFile);
const bodies = [];
for (let p = 0; p < all.length; ) {
  const len = all.readUInt32LE(p);
  bodies.push(all.subarray(p + 4, p + 4 + len));
  p += 4 + len;
}
if (bodies.length < (rounds + 1) * BODIES_PER_ROUND) throw new Error('not enough recorded bodies');

const { forEachTraceSpan } = require(`${dist}/receiver/decode-protobuf`);
const { countTraceSpans } = require(`${dist}/receiver/check-protobuf`);

/** How the receiver hands a checked body to the pipeline (builds before protobuf-batch.js: the same by hand). */
const receivedBatch = (() => {
  try {
    return require(`${dist}/receiver/protobuf-batch`).protobufBatch;
  } catch {
    return (body) => {
      const size = countTraceSpans(body);
      return { size, forEach: (visit) => forEachTraceSpan(body, visit) };
    };
  }
})();
const { loadConfig } = require(`${dist}/config`);
const { startSidecar } = require(`${dist}/sidecar/sidecar`);

(async () => {
  const config = loadConfig({
    env: {},
    overrides: { receiver: { port: 0 }, api: { port: 0 }, log: { level: 'silent' } },
  });
  const silent = { info() {}, warn() {}, error() {}, debug() {}, fatal() {}, trace() {} };
  const sidecar = await startSidecar(config, silent);
  let next = 0;
  let spans = 0;
  // Round 0 warms up; the caller subtracts a run of round 0 alone. Bodies never repeat (distinct SQL texts).
  for (let round = 0; round <= rounds; round++) {
    for (let b = 0; b < BODIES_PER_ROUND; b++) {
      const body = bodies[next++];
      const batch = receivedBatch(body);
      if (round > 0) spans += batch.size;
      if (mode === 'decode') batch.forEach(() => {});
      else sidecar.pipeline.enqueue(batch);
    }
    sidecar.pipeline.drainAll();
    sidecar.pipeline.assembler.flush();
  }
  await sidecar.shutdown();
  process.stdout.write(`${JSON.stringify({ spans })}\n`);
})();
