/** What the forwarder's unit tests share. */

/** Forwarder options sized for tests: small caps, a 2-s attempt limit, no compression. */
export const FORWARDER_TEST_OPTIONS = {
  headers: {},
  maxQueuedBytes: 1 << 20,
  maxBatchBytes: 1 << 20,
  timeoutMs: 2_000,
  compression: 'none' as const,
};

/** Waits for `probe` (polling every 10 ms); on a time-out, says what `state` reads then. */
export async function until(
  probe: () => boolean,
  state: () => unknown = () => undefined,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out; ${JSON.stringify(state()) ?? ''}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
