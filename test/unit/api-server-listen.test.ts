import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { ApiServer } from '../../src/api/api-server';
import { isSpanstatError } from '../../src/errors';

describe('ApiServer on a taken port', () => {
  it('names the api.host/api.port settings and the error code, as the receivers do', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const taken = (blocker.address() as AddressInfo).port;
    const api = new ApiServer({ host: '127.0.0.1', port: taken }, { health: () => ({}), reports: {} });
    const err = await api.start().then(
      () => undefined,
      (e: unknown) => e,
    );
    await new Promise<void>((r) => blocker.close(() => r()));
    expect(isSpanstatError(err, 'SPANSTAT_ERR_LISTEN')).toBe(true);
    expect((err as Error).message).toBe(
      `SPANSTAT_ERR_LISTEN: API, page and /metrics server cannot listen on 127.0.0.1:${taken} (api.host/api.port): EADDRINUSE`,
    );
    await api.shutdown();
  });
});
