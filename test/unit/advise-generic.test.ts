import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CACHE, ROUTES } from '../../examples/demo-app/routes';

const ROOT = join(__dirname, '..', '..');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sources(path) : path.endsWith('.ts') ? [path] : [];
  });
}

describe('advisor engine', () => {
  it('names no table, route or cache key of the demo app', () => {
    const schema = readFileSync(join(ROOT, 'examples', 'demo-app', 'schema.sql'), 'utf8');
    const tables = [...schema.matchAll(/CREATE TABLE (\w+)/g)].map((m) => m[1]);
    const routes = ROUTES.map((r) => r.key.split(' ')[1]);
    const keyPrefixes = [CACHE.productKey(''), CACHE.quoteKey('')];
    expect(tables.length).toBeGreaterThan(0);
    const offenders: string[] = [];
    for (const file of sources(join(ROOT, 'src', 'advise'))) {
      const text = readFileSync(file, 'utf8');
      for (const name of tables)
        if (new RegExp(`\\b${name}\\b`).test(text)) offenders.push(`${file}: table ${name}`);
      for (const s of [...routes, ...keyPrefixes]) if (text.includes(s)) offenders.push(`${file}: ${s}`);
    }
    expect(offenders).toEqual([]);
  });
});
