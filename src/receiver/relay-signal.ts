/**
 * What both receivers do with a metrics or logs export (signals.ts): refuse it, saying why, when
 * spanstat does not relay that signal; else check it and hand it to the forwarder as received.
 */
import { isSpanstatError } from '../errors';
import { countSignalItems } from './check-signals';
import type { ReceiverOptions, ReceiverStats } from './receiver-types';
import type { OtlpEncoding } from './responses';
import { type RelayedSignal, refusalMessage, SIGNALS, type SignalRefusal } from './signals';

const REFUSED_COUNTER = { metrics: 'metricsRefused', logs: 'logsRefused' } as const;
const ACCEPTED_COUNTER = { metrics: 'dataPointsAccepted', logs: 'logRecordsAccepted' } as const;

/** Why this signal is refused, or undefined when it is relayed. */
export function signalRefusal(options: ReceiverOptions, signal: RelayedSignal): SignalRefusal | undefined {
  if (options.onAccepted === undefined) return 'no-forward';
  return options.refusal?.(signal);
}

/**
 * Counts a refused export and answers the message to refuse it with. The first refusal of each
 * signal is logged at warn (the stats are shared by both receivers, so once per sidecar): an SDK
 * exports every few seconds, and each would repeat the same line.
 */
export function refuseSignal(
  options: ReceiverOptions,
  stats: ReceiverStats,
  signal: RelayedSignal,
  why: SignalRefusal,
  transport: 'OTLP/HTTP' | 'OTLP/gRPC',
): string {
  const counter = REFUSED_COUNTER[signal];
  stats[counter]++;
  const message = refusalMessage(signal, why);
  if (stats[counter] === 1)
    options.logger?.warn(
      { signal, transport, counted: `/healthz receiver.${counter}` },
      `OTLP ${signal} refused (logged once): ${message}`,
    );
  return message;
}

export type RelayResult =
  | { ok: true }
  | { ok: false; kind: 'bad-data'; message: string }
  | { ok: false; kind: 'overloaded'; message: string };

/** Checks a body of a relayed signal and queues it for the forwarder; a body with nothing in it is not. */
export function relaySignal(
  options: ReceiverOptions,
  stats: ReceiverStats,
  signal: RelayedSignal,
  body: Buffer,
  encoding: OtlpEncoding,
): RelayResult {
  let items: number;
  try {
    items = countSignalItems(signal, body, encoding);
  } catch (err) {
    stats.decodeErrors++;
    // Check messages name fields and offsets, never body content.
    const message = isSpanstatError(err) ? err.message : 'the body could not be decoded';
    return { ok: false, kind: 'bad-data', message };
  }
  if (items === 0) return { ok: true };
  if (options.onAccepted?.(body, encoding, items, signal) !== true)
    return {
      ok: false,
      kind: 'overloaded',
      message: `spanstat's forward queue is full (forward.maxQueuedBytes); ${SIGNALS[signal].items} not taken, retry later`,
    };
  stats[ACCEPTED_COUNTER[signal]] += items;
  return { ok: true };
}
