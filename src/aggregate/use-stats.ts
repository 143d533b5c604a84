/**
 * Per-request use of one fingerprint (or cache namespace) by one endpoint, from request
 * summaries: how many of the endpoint's requests used it, how often per request, and how many
 * requests used it at least `threshold` times — the N+1 (and missing-MGET) evidence.
 */
import type { FingerprintUse, NamespaceUse } from '../model/request-summary';
import { ms } from './acc-util';
import { OVERFLOW_KEY, OVERFLOW_LABEL } from './bounded-table';
import type { EndpointState } from './endpoint-stats';
import type { AccumulatorOps, Windowed } from './windowed';

export interface UseAcc {
  /** Requests that used the fingerprint/namespace at least once. */
  requests: number;
  calls: number;
  totalMs: number;
  maxCalls: number;
  /** Trace of the request with the most calls. */
  maxTraceId: string;
  /** Requests with calls (queries) or single-key reads (namespaces) ≥ threshold. */
  overThreshold: number;
  /** Time in the calls of those requests. */
  overThresholdMs: number;
  /** Single-key reads (GET-like); namespaces only. */
  singleReads: number;
}

export interface UseState {
  readonly service: string;
  /** The endpoint row; null on an overflow row. */
  readonly endpoint: EndpointState | null;
  /** Fingerprint or namespace. */
  key: string;
  readonly stats: Windowed<UseAcc>;
}

export const useOps: AccumulatorOps<UseAcc> = {
  create: () => ({
    requests: 0,
    calls: 0,
    totalMs: 0,
    maxCalls: 0,
    maxTraceId: '',
    overThreshold: 0,
    overThresholdMs: 0,
    singleReads: 0,
  }),
  merge(into, from, move) {
    into.requests += from.requests;
    into.calls += from.calls;
    into.totalMs += from.totalMs;
    if (from.maxCalls > into.maxCalls || into.maxTraceId === '') {
      if (from.maxCalls > into.maxCalls) into.maxCalls = from.maxCalls;
      if (from.maxTraceId !== '') into.maxTraceId = from.maxTraceId;
    }
    into.overThreshold += from.overThreshold;
    into.overThresholdMs += from.overThresholdMs;
    into.singleReads += from.singleReads;
    if (move) {
      from.requests = from.calls = from.totalMs = from.maxCalls = 0;
      from.maxTraceId = '';
      from.overThreshold = from.overThresholdMs = from.singleReads = 0;
    }
  },
};

function addUse(
  acc: UseAcc,
  calls: number,
  totalMs: number,
  signal: number,
  threshold: number,
  traceId: string,
) {
  acc.requests++;
  acc.calls += calls;
  acc.totalMs += totalMs;
  if (calls > acc.maxCalls || acc.maxTraceId === '') {
    if (calls > acc.maxCalls) acc.maxCalls = calls;
    acc.maxTraceId = traceId;
  }
  if (signal >= threshold) {
    acc.overThreshold++;
    acc.overThresholdMs += totalMs;
  }
}

export function addFingerprintUse(
  acc: UseAcc,
  use: FingerprintUse,
  threshold: number,
  traceId: string,
): void {
  addUse(acc, use.calls, ms(use.totalMs), use.calls, threshold, traceId);
}

export function addNamespaceUse(acc: UseAcc, use: NamespaceUse, threshold: number, traceId: string): void {
  addUse(acc, use.ops, ms(use.totalMs), use.singleReads, threshold, traceId);
  acc.singleReads += use.singleReads;
}

/** Argument of the use-row factory: the endpoint and the fingerprint or namespace. */
export interface UseKey {
  endpoint: EndpointState;
  key: string;
}

export function newUseState(arg: UseKey, overflowService: string | null, stats: Windowed<UseAcc>): UseState {
  if (overflowService === null)
    return { service: arg.endpoint.service, endpoint: arg.endpoint, key: arg.key, stats };
  return { service: overflowService, endpoint: null, key: OVERFLOW_KEY, stats };
}

/** Method and route a use row reports. */
export function useEndpoint(state: UseState): { method: string; route: string } {
  return state.endpoint === null
    ? { method: OVERFLOW_LABEL, route: OVERFLOW_LABEL }
    : { method: state.endpoint.method, route: state.endpoint.route };
}
