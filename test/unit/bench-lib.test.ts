import { describe, expect, it } from 'vitest';
import { figure, formatTable } from '../../bench/lib/figures';
import { BatchStream, buildTemplates, writeDigits } from '../../bench/lib/otlp-batches';
import { quantileOf, relativeError, slope } from '../../bench/lib/stats';
import { quotePaths } from '../../bench/preload-overhead.bench';
import { matchingVersions } from '../../scripts/lib/node-binary';
import { decodeTracesProtobuf } from '../../src/receiver/decode-protobuf';

describe('bench OTLP batches', () => {
  const templates = buildTemplates({ templates: 2, spansPerBatch: 64, seed: 1 });

  it('encodes whole requests of at least the asked number of spans, each body decodable', () => {
    for (const t of templates) {
      expect(t.spans).toBeGreaterThanOrEqual(64);
      expect(decodeTracesProtobuf(t.body)).toHaveLength(t.spans);
    }
  });

  it('gives every send its own trace ids and fresh SQL literals and key ids', () => {
    const stream = new BatchStream(templates);
    const a = decodeTracesProtobuf(stream.next());
    const b = decodeTracesProtobuf(stream.next());
    const c = decodeTracesProtobuf(stream.next()); // the first template again, patched anew
    const traces = (spans: typeof a) => new Set(spans.map((s) => s.traceId));
    for (const id of traces(c)) expect(traces(a).has(id)).toBe(false);
    expect(traces(b).size).toBeGreaterThan(1);
    const texts = (spans: typeof a) =>
      spans.map((s) => s.attributes['db.query.text']).filter((t): t is string => typeof t === 'string');
    const literalTexts = texts(c).filter((t) => /\d{10}/.test(t));
    expect(literalTexts.length).toBeGreaterThan(0);
    for (const text of literalTexts) expect(texts(a)).not.toContain(text);
  });

  it('counts distinct SQL texts and keys exactly when values wrap around', () => {
    const stream = new BatchStream(templates, { sqlValues: 3, keyValues: 2 });
    for (let i = 0; i < 50; i++) stream.next();
    // At most shapes × values can be distinct; the stream must have seen that many texts.
    expect(stream.distinctSql).toBeLessThanOrEqual(12 * 3);
    expect(stream.distinctKeys).toBeLessThanOrEqual(5 * 2);
    expect(stream.distinctKeys).toBeGreaterThan(2);
  });

  it('writes fixed-width zero-padded digits in place', () => {
    const buf = Buffer.from('id=XXXXXX;');
    writeDigits(buf, 3, 6, 4217);
    expect(buf.toString()).toBe('id=004217;');
  });
});

describe('bench statistics', () => {
  it('takes nearest-rank quantiles', () => {
    const xs = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect(quantileOf(xs, 0.5)).toBe(50);
    expect(quantileOf(xs, 0.99)).toBe(99);
  });

  it('fits a least-squares slope', () => {
    expect(slope([0, 1, 2, 3], [1, 3, 5, 7])).toBeCloseTo(2);
    expect(Number.isNaN(slope([1], [1]))).toBe(true);
  });

  it('measures relative error against the exact value', () => {
    expect(relativeError(101, 100)).toBeCloseTo(0.01);
    expect(relativeError(0, 0)).toBe(0);
  });

  it('prints failed, passed and informational figures with notes', () => {
    const text = formatTable([
      figure('a', 'ingest', '≥ 100k', '120k', true),
      figure('b', 'memory', '≤ 150 MB', '180 MB', false, 'WASM heap'),
      figure('c', 'decode', '-', '150k', null),
    ]);
    expect(text).toContain('PASS');
    expect(text).toContain('FAIL');
    expect(text).toContain('info');
    expect(text).toContain('memory: WASM heap');
  });
});

describe('preload bench quote paths', () => {
  it('asks for a new code once in every missEvery requests and otherwise for one asked before', () => {
    const quotes = quotePaths(4, 1000);
    const seen = new Set<string>();
    let fresh = 0;
    for (let run = 0; run < 3; run++) {
      for (let n = 0; n < 1000; n++) {
        const path = quotes.path(n);
        if (!seen.has(path)) fresh++;
        seen.add(path);
      }
      quotes.nextRun();
    }
    // The first 200 requests of the bench all ask for new codes (nothing cached yet to reuse).
    expect(fresh).toBe(200 + (3000 - 200) / 4);
  });
});

describe('bench --node versions', () => {
  it('picks the versions a spec names, sorted as versions rather than strings', () => {
    const versions = ['24.9.0', '24.21.0', '22.12.0', '240.1.0', '24.21.1'];
    expect(matchingVersions(versions, '24')).toEqual(['24.9.0', '24.21.0', '24.21.1']);
    expect(matchingVersions(versions, '24.21')).toEqual(['24.21.0', '24.21.1']);
    expect(matchingVersions(versions, '24.21.0')).toEqual(['24.21.0']);
    expect(matchingVersions(versions, '23')).toEqual([]);
  });
});
