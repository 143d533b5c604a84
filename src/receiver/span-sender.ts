/**
 * The resource attributes both decoders read into a SpanSender (model/span.ts), once per resource.
 */
import type { AttributeValue, SpanSender } from '../model/span';

export const UNKNOWN_SERVICE = 'unknown_service';
/** The preload's `telemetry.distro.name` (src/preload/start.ts). */
export const PRELOAD_DISTRO = 'spanstat';
/** Longest `service.version` kept (a git SHA is 40, a semver with build metadata rarely over 40); longer ones are cut. */
export const MAX_VERSION_CHARS = 64;

/** A SpanSender being filled in from its resource's attributes. */
export type SenderFields = { -readonly [K in keyof SpanSender]: SpanSender[K] };

/** A sender with no attributes read yet: `unknown_service`, no process. */
export function unknownSender(): SenderFields {
  return {
    service: UNKNOWN_SERVICE,
    preload: false,
    hostName: undefined,
    pid: undefined,
    instanceId: undefined,
    version: undefined,
  };
}

const SENDER_KEYS: ReadonlySet<string> = new Set([
  'service.name',
  'telemetry.distro.name',
  'host.name',
  'process.pid',
  'service.instance.id',
  'service.version',
]);

/** Whether a resource attribute's key is one the sender keeps (other values need not be read). */
export function isSenderKey(key: string): boolean {
  return SENDER_KEYS.has(key);
}

/** Sets the field a resource attribute names, if it is one of the sender's (last duplicate wins). */
export function setSenderField(sender: SenderFields, key: string, value: AttributeValue | undefined): void {
  switch (key) {
    case 'service.name':
      if (typeof value === 'string' && value !== '') sender.service = value;
      break;
    case 'telemetry.distro.name':
      sender.preload = value === PRELOAD_DISTRO;
      break;
    case 'host.name':
      sender.hostName = typeof value === 'string' && value !== '' ? value : undefined;
      break;
    case 'process.pid':
      // An int64 (a string in JSON when large; pids never are).
      sender.pid = typeof value === 'number' && Number.isInteger(value) ? value : undefined;
      break;
    case 'service.instance.id':
      sender.instanceId = typeof value === 'string' && value !== '' ? value : undefined;
      break;
    case 'service.version':
      sender.version = versionText(value);
      break;
  }
}

/** A `service.version` as kept: trimmed, cut at MAX_VERSION_CHARS; a number (`2`) as its text; else none. */
function versionText(value: AttributeValue | undefined): string | undefined {
  if (typeof value !== 'string' && typeof value !== 'number') return undefined;
  const text = String(value).trim();
  if (text === '') return undefined;
  return text.length > MAX_VERSION_CHARS ? text.slice(0, MAX_VERSION_CHARS) : text;
}
