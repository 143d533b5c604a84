/**
 * Attributes the HTTP instrumentation sets that the sidecar never reads, removed before export:
 * fewer bytes to encode and send per request span, and no query-string values or client
 * addresses leave the app (`url.query` carries values; see the privacy rule in DESIGN.md).
 */

export const UNREAD_ATTRIBUTES = [
  'url.query',
  'url.scheme',
  'user_agent.original',
  'client.address',
  'network.peer.address',
  'network.peer.port',
  'network.protocol.version',
] as const;

/** Deletes the unread attributes in place; call once per span, after it ended. */
export function trimAttributes(attributes: Record<string, unknown>): void {
  // Only request spans carry these; `url.path` is a cheap test for one.
  if (attributes['url.path'] === undefined && attributes['url.query'] === undefined) return;
  for (const key of UNREAD_ATTRIBUTES) {
    if (key in attributes) delete attributes[key];
  }
}
