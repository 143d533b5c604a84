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
    if ((err as Error).name === 'TimeoutError')
      return {
        ok: false,
        error: `SPANSTAT_ERR_SIDECAR_TIMEOUT: the sidecar at ${url} did not answer within ${timeoutMs / 1000} s`,
      };
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

/**
 * `path` on the sidecar API at `api` (a trailing slash on `api` is dropped; `host:port` without a
 * scheme is taken as http://, as curl does, rather than failing as an unknown scheme).
 */
export function apiUrl(api: string, path: string): string {
  const base = /^[a-z][a-z0-9+.-]*:\/\//i.test(api) ? api : `http://${api}`;
  return `${base.replace(/\/$/, '')}${path}`;
}

/**
 * The part every read command shares: GET `path` from the API at `api`; a failure is printed (exit 1),
 * and with --json the document is printed as it came (exit 0). Otherwise the body comes back for the
 * command to print as text.
 */
export async function fetchForCommand(
  api: string,
  path: string,
  json: boolean | undefined,
): Promise<{ exitCode: number } | { body: unknown }> {
  const result = await fetchJson(apiUrl(api, path));
  if (!result.ok) {
    console.error(`spanstat: ${result.error}`);
    return { exitCode: 1 };
  }
  if (json) {
    console.log(JSON.stringify(result.body, null, 2));
    return { exitCode: 0 };
  }
  return { body: result.body };
}

/** Control characters (terminal escapes among them): C0, DEL and C1. */
const CONTROL = /\p{Cc}/gu;

/** `text` for a terminal: span data (service names, routes) must not move the cursor or recolour it. */
export function terminalSafe(text: string): string {
  return text.replace(CONTROL, (c) => (c === '\n' || c === '\t' ? c : '\ufffd'));
}
