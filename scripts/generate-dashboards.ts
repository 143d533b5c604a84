/**
 * Writes grafana/dashboards/*.json from the code in grafana/generator/ (which reads the metric
 * names from src/metrics/names.ts).
 *
 *   npx tsx scripts/generate-dashboards.ts          # regenerate
 *   npx tsx scripts/generate-dashboards.ts --check  # exit 1 when the committed JSON is stale
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { renderDashboards } from '../grafana/generator';

export const DASHBOARD_DIR = resolve(__dirname, '..', 'grafana', 'dashboards');

/** Files whose committed text differs from what the generator produces now (missing ones included). */
export function staleDashboards(dir = DASHBOARD_DIR): string[] {
  const stale: string[] = [];
  const rendered = renderDashboards();
  for (const [name, text] of rendered) {
    const file = join(dir, name);
    if (!existsSync(file) || readFileSync(file, 'utf8') !== text) stale.push(name);
  }
  if (existsSync(dir)) {
    for (const name of readdirSync(dir)) if (name.endsWith('.json') && !rendered.has(name)) stale.push(name);
  }
  return stale;
}

function main(): void {
  if (process.argv.includes('--check')) {
    const stale = staleDashboards();
    if (stale.length) {
      console.error(`stale dashboards: ${stale.join(', ')} — run: npx tsx scripts/generate-dashboards.ts`);
      process.exit(1);
    }
    console.log('dashboards are up to date');
    return;
  }
  mkdirSync(DASHBOARD_DIR, { recursive: true });
  for (const [name, text] of renderDashboards()) {
    writeFileSync(join(DASHBOARD_DIR, name), text);
    console.log(`wrote grafana/dashboards/${name}`);
  }
}

if (require.main === module) main();
