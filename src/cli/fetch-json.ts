export type FetchResult = { ok: true; body: unknown } | { ok: false; error: string };

/** GET a JSON document from the sidecar API with a timeout; errors become messages, never throws. */
export async function fetchJson(url: string, timeoutMs = 5_000): Promise<FetchResult> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    const text = await response.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return { ok: false, error: `${url} answered ${response.status} with a non-JSON body` };
    }
    if (!response.ok) {
      const message = (body as { error?: { message?: string } }).error?.message ?? text;
      return { ok: false, error: `${url} answered ${response.status}: ${message}` };
    }
    return { ok: true, body };
  } catch (err) {
    const cause = describeCause(err);
    return {
      ok: false,
      error: `SPANSTAT_ERR_SIDECAR_UNREACHABLE: cannot reach the sidecar at ${url} (${cause}); is \`spanstat sidecar\` running?`,
    };
  }
}

function describeCause(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string; errors?: { code?: string }[] } }).cause;
  return cause?.code ?? cause?.errors?.[0]?.code ?? cause?.message ?? (err as Error).message;
}
