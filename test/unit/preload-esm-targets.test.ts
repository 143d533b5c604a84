import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadSync } from '../../src/preload/esm-hooks';
import { entryIsEsModule, isNextServer } from '../../src/preload/esm-patches';
import { ESM_PATCH_GLOBAL, esmTargetOf } from '../../src/preload/esm-targets';

const QUERY_URL = 'file:///app/node_modules/postgres/src/query.js';
const INDEX_URL = 'file:///app/node_modules/postgres/src/index.js';
const CONNECTION_URL = 'file:///app/node_modules/postgres/src/connection.js';

describe('the ES module files the preload patches', () => {
  it('hands the class over at the end of a target, and leaves other modules and CommonJS alone', () => {
    const source = 'export const CLOSE = {}\nexport class Query extends Promise {}\n';
    const next = () => ({ format: 'module', source });
    const out = loadSync(QUERY_URL, {}, next);
    expect(out.source).toBe(
      `${source}\n;globalThis[Symbol.for("${ESM_PATCH_GLOBAL}")]?.("postgres/src/query.js", { Query });\n`,
    );
    expect(loadSync('file:///app/node_modules/other/src/query.js', {}, next).source).toBe(source);
    const cjs = { format: 'commonjs', source };
    expect(loadSync(QUERY_URL, {}, () => cjs)).toBe(cjs);
  });

  it('exports the factory through the patch, or as it is when nothing is registered', () => {
    const source = 'function Postgres() {}\nexport default Postgres\n';
    const out = loadSync(INDEX_URL, {}, () => ({
      format: 'module',
      source: new TextEncoder().encode(source),
    }));
    expect(out.source).toContain(
      `export default (globalThis[Symbol.for("${ESM_PATCH_GLOBAL}")]?.('postgres', Postgres) ?? Postgres)`,
    );
    // The Connection factory (the instances' pools, postgres-js-pool.ts), exported before it is declared.
    const connection = 'import net from "net"\nexport default Connection\nfunction Connection() {}\n';
    const patched = loadSync(CONNECTION_URL, {}, () => ({ format: 'module', source: connection }));
    expect(patched.source).toContain(
      `export default (globalThis[Symbol.for("${ESM_PATCH_GLOBAL}")]?.('postgres/src/connection.js', Connection) ?? Connection)`,
    );
  });

  it("imports hono's Context through the patch, which the dispatch then builds", () => {
    const source =
      'import { compose } from "./compose.js";\nimport { Context } from "./context.js";\nnew Context(r, {});\n';
    const url = 'file:///app/node_modules/hono/dist/hono-base.js';
    const out = loadSync(url, {}, () => ({ format: 'module', source })).source as string;
    expect(out).toBe(
      'import { compose } from "./compose.js";\n' +
        'import { Context as Context$spanstatImport } from "./context.js";\n' +
        `const Context = globalThis[Symbol.for("${ESM_PATCH_GLOBAL}")]?.("hono/context", Context$spanstatImport) ?? Context$spanstatImport;\n` +
        'new Context(r, {});\n',
    );
    // Another version's import line: left as it is.
    const other = { format: 'module', source: 'import { Context as C } from "./context.js";\n' };
    expect(loadSync(url, {}, () => other)).toBe(other);
    expect(loadSync('file:///app/node_modules/hono/dist/cjs/hono-base.js', {}, () => other)).toBe(other);
  });

  it("hands the arguments of Yoga's executor over as each call starts", () => {
    const url = 'file:///app/node_modules/@graphql-tools/executor/esm/execution/normalizedExecutor.js';
    const source =
      "import { execute, subscribe, } from './execute.js';\nexport function normalizedExecutor(args) {\n    return execute(args);\n}\n";
    const out = loadSync(url, {}, () => ({ format: 'module', source })).source as string;
    expect(out).toBe(
      "import { execute, subscribe, } from './execute.js';\n" +
        `export function normalizedExecutor(args) { globalThis[Symbol.for("${ESM_PATCH_GLOBAL}")]?.("@graphql-tools/executor", args);\n` +
        '    return execute(args);\n}\n',
    );
    const other = {
      format: 'module',
      source: 'export const normalizedExecutor = (args) => execute(args);\n',
    };
    expect(loadSync(url, {}, () => other)).toBe(other);
  });

  it('leaves a target whose source is not as expected (another version) untouched', () => {
    const result = { format: 'module', source: 'export default function postgres() {}\n' };
    expect(loadSync(INDEX_URL, {}, () => result)).toBe(result);
    expect(esmTargetOf('node:fs')).toBeUndefined();
    expect(esmTargetOf('file:///x/node_modules/@koa/router/dist/index.mjs')?.id).toBe('@koa/router');
  });

  it('tells an ES module entry by extension or by the nearest package.json', () => {
    const dir = mkdtempSync(join(tmpdir(), 'spanstat-esm-'));
    mkdirSync(join(dir, 'esm'));
    writeFileSync(join(dir, 'package.json'), '{"type":"commonjs"}');
    writeFileSync(join(dir, 'esm', 'package.json'), '{"type":"module"}');
    expect(entryIsEsModule(join(dir, 'app.mjs'))).toBe(true);
    expect(entryIsEsModule(join(dir, 'esm', 'app.cjs'))).toBe(false);
    expect(entryIsEsModule(join(dir, 'esm', 'app.js'))).toBe(true);
    expect(entryIsEsModule(join(dir, 'app.js'))).toBe(false);
    expect(entryIsEsModule(undefined)).toBe(false);
  });

  it("tells a Next.js server by Next's own entry or a build beside it", () => {
    const app = mkdtempSync(join(tmpdir(), 'spanstat-next-'));
    const elsewhere = mkdtempSync(join(tmpdir(), 'spanstat-plain-'));
    expect(isNextServer(join(app, 'node_modules', 'next', 'dist', 'bin', 'next'), elsewhere)).toBe(true);
    expect(isNextServer(join(app, 'server.js'), elsewhere)).toBe(false);
    mkdirSync(join(app, '.next'));
    // The standalone server.js, or a custom server, beside the build; or started where it is.
    expect(isNextServer(join(app, 'server.js'), elsewhere)).toBe(true);
    expect(isNextServer(join(elsewhere, 'server.js'), app)).toBe(true);
    expect(isNextServer(join(elsewhere, 'app.js'), elsewhere)).toBe(false);
    expect(isNextServer(undefined, elsewhere)).toBe(false);
  });
});
