import { JsonTraceSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { encodeExportResponse, encodeStatus, FAILURES } from '../../src/receiver/responses';

/** google.rpc.Status (googleapis google/rpc/status.proto), details omitted. */
const Status = protobuf
  .parse('syntax = "proto3"; message Status { int32 code = 1; string message = 2; }')
  .root.lookupType('Status');

describe('OTLP responses', () => {
  it('encodes full success as an empty ExportTraceServiceResponse the OTel client reads as such', () => {
    const proto = encodeExportResponse('protobuf');
    expect(proto.length).toBe(0);
    expect(ProtobufTraceSerializer.deserializeResponse(proto)).toEqual({});
    expect(JsonTraceSerializer.deserializeResponse(encodeExportResponse('json'))).toEqual({});
  });

  it('encodes a partial success the OTel client decodes in protobuf and JSON', () => {
    const partial = { rejectedSpans: 5, errorMessage: 'five spans had no trace id' };
    expect(ProtobufTraceSerializer.deserializeResponse(encodeExportResponse('protobuf', partial))).toEqual({
      partialSuccess: partial,
    });
    const json = JsonTraceSerializer.deserializeResponse(encodeExportResponse('json', partial));
    expect(json).toEqual({ partialSuccess: { rejectedSpans: '5', errorMessage: partial.errorMessage } });
  });

  it('encodes google.rpc.Status in protobuf and JSON', () => {
    const decoded = Status.toObject(Status.decode(encodeStatus('protobuf', 3, 'bad protobuf')));
    expect(decoded).toEqual({ code: 3, message: 'bad protobuf' });
    expect(JSON.parse(encodeStatus('json', 14, 'overloaded').toString())).toEqual({
      code: 14,
      message: 'overloaded',
    });
  });

  it('maps each failure to the status the OTLP/HTTP spec names, retryable only when overloaded', () => {
    const statuses = Object.fromEntries(Object.entries(FAILURES).map(([k, v]) => [k, v.httpStatus]));
    expect(statuses).toEqual({
      'bad-data': 400,
      'too-large': 413,
      'unsupported-media-type': 415,
      'unsupported-encoding': 415,
      overloaded: 503,
      'not-found': 404,
      'not-relayed': 404,
      'method-not-allowed': 405,
      internal: 500,
    });
    const retryable = Object.entries(FAILURES)
      .filter(([, v]) => v.retryable)
      .map(([k]) => k);
    expect(retryable).toEqual(['overloaded']);
  });
});
