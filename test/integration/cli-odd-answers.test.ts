import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The read commands against an API that is not quite a sidecar's: wrong shapes, terminal escapes in
// span data, no answer at all. The CLI must say what happened, not crash or obey the escapes.
const CLI = join(__dirname, '..', '..', 'dist', 'cli', 'main.js');
let server: Server;
let api = '';
const answers = new Map<string, unknown>();

beforeAll(async () => {
  server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (path.startsWith('/slow')) return; // never answers
    const body = answers.get(path);
    res.writeHead(body === undefined ? 404 : 200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body ?? { error: { code: 'SPANSTAT_ERR_API_NOT_FOUND', message: 'no' } }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  api = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const cli = (...args: string[]) =>
  promisify(execFile)(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 20_000 }).then(
    (out) => ({ code: 0, stdout: out.stdout, stderr: out.stderr }),
    (err: { code: number; stdout: string; stderr: string }) => ({
      code: err.code,
      stdout: err.stdout,
      stderr: err.stderr,
    }),
  );

describe('the CLI against odd API answers', () => {
  it('says an answer without rows is not a report instead of crashing', async () => {
    answers.set('/api/v1/reports/queries', { rows: null });
    answers.set('/api/v1/recommendations', { advisor: null });
    const report = await cli('report', 'queries', '--api', api);
    expect(report.code).toBe(1);
    expect(report.stderr).toMatch(/answered without report rows/);
    expect(report.stderr).not.toMatch(/TypeError|\n\s+at /);
    const advise = await cli('advise', '--api', api);
    expect(advise.code).toBe(1);
    expect(advise.stderr).toMatch(/answered without recommendations/);
  });

  it('prints control characters in span data as visible replacements, never as terminal escapes', async () => {
    const row = { service: 'shop\u001b[31m', method: 'GET', route: '/x\u0007', requests: 1 };
    answers.set('/api/v1/reports/endpoints', { window: 'all', rows: [row], totalRows: 1 });
    answers.set('/healthz', {});
    const out = await cli('report', 'endpoints', '--api', api);
    expect(out.code).toBe(0);
    const controls = [...out.stdout].filter((c) => c !== '\n' && (c < ' ' || c === '\u007f'));
    expect(controls).toEqual([]);
    expect(out.stdout).toContain('shop\ufffd[31m');
  });

  it('tells a sidecar that does not answer in time from one that cannot be reached', async () => {
    const out = await cli('report', 'queries', '--api', `${api}/slow`);
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(/SPANSTAT_ERR_SIDECAR_TIMEOUT: .* did not answer within 5 s/);
  });

  it('takes ports as decimal digits only', async () => {
    for (const bad of ['', '1e3', '0x10', '70000']) {
      const out = await cli('sidecar', '--receiver-port', bad);
      expect(out.code, bad).not.toBe(0);
      expect(out.stderr).toMatch(/must be a port number 0-65535/);
    }
  });
});
