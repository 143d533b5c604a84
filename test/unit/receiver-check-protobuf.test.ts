import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../scripts/lib/seeded-random';
import type { DecodedSpan } from '../../src/model/span';
import { countTraceSpans } from '../../src/receiver/check-protobuf';
import { decodeTracesProtobuf, forEachTraceSpan } from '../../src/receiver/decode-protobuf';
import { READ_ATTRIBUTES } from '../../src/receiver/protobuf-batch';
import { batchMix } from '../fixtures/otlp/batch-mix';
import { oldSpans, protobufBody, stableSpans } from '../fixtures/otlp/spans';

type Verdict = { ok: true; spans: number } | { ok: false; message: string };

function verdict(walk: (body: Buffer) => number, body: Buffer): Verdict {
  try {
    return { ok: true, spans: walk(body) };
  } catch (err) {
    return { ok: false, message: (err as Error).message };
  }
}

const decode = (body: Buffer) => decodeTracesProtobuf(body).length;

/** Copies of `body` with a few bytes changed, a byte dropped or inserted, or the tail cut off. */
function* corrupted(body: Buffer, count: number, seed: number): Generator<Buffer> {
  const rand = seededRandom(seed);
  const at = () => Math.floor(rand() * body.length);
  for (let i = 0; i < count; i++) {
    const kind = i % 4;
    if (kind === 0) {
      const copy = Buffer.from(body);
      for (let n = 1 + Math.floor(rand() * 3); n > 0; n--) copy[at()] = Math.floor(rand() * 256);
      yield copy;
    } else if (kind === 1) {
      const cut = at();
      yield Buffer.concat([body.subarray(0, cut), body.subarray(cut + 1)]);
    } else if (kind === 2) {
      const cut = at();
      yield Buffer.concat([
        body.subarray(0, cut),
        Buffer.from([Math.floor(rand() * 256)]),
        body.subarray(cut),
      ]);
    } else {
      yield body.subarray(0, at());
    }
  }
}

describe('countTraceSpans (the receiver check) against the decoder', () => {
  const bodies = [protobufBody(batchMix(64, 3)), protobufBody(stableSpans()), protobufBody(oldSpans())];

  it('counts the spans the decoder returns', () => {
    for (const body of bodies) expect(countTraceSpans(body)).toBe(decodeTracesProtobuf(body).length);
  });

  it('reaches the same verdict as the decoder on thousands of corrupted bodies', () => {
    let rejected = 0;
    let checked = 0;
    for (const [i, body] of bodies.entries()) {
      for (const bad of corrupted(body, 1500, 11 + i)) {
        const expected = verdict(decode, bad);
        expect(verdict(countTraceSpans, bad)).toEqual(expected);
        if (!expected.ok) rejected++;
        checked++;
      }
    }
    // The corpus must exercise both outcomes, or the comparison proves little.
    expect(rejected).toBeGreaterThan(checked / 10);
    expect(checked - rejected).toBeGreaterThan(checked / 20);
  });

  it("never fails the pipeline's decode (read attributes only) on a body the check accepted", () => {
    const pipelineDecode = (body: Buffer) => {
      let spans = 0;
      forEachTraceSpan(body, () => spans++, READ_ATTRIBUTES);
      return spans;
    };
    let accepted = 0;
    for (const [i, body] of bodies.entries()) {
      for (const bad of corrupted(body, 1500, 31 + i)) {
        const checked = verdict(countTraceSpans, bad);
        if (!checked.ok) continue;
        expect(verdict(pipelineDecode, bad)).toEqual(checked);
        accepted++;
      }
    }
    expect(accepted).toBeGreaterThan(100);
  });

  it('forEachTraceSpan visits what decodeTracesProtobuf returns, in order', () => {
    const body = bodies[0];
    const visited: DecodedSpan[] = [];
    forEachTraceSpan(body, (span) => visited.push(span));
    expect(visited).toEqual(decodeTracesProtobuf(body));
  });
});
