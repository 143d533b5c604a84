import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AMTOOL_BIN, ensurePromToolsInstalled, PROMTOOL_BIN } from '../../scripts/lib/prom-servers';

const CONFIG = join(__dirname, '..', '..', 'config');

function run(bin: string, args: string[]) {
  const result = spawnSync(bin, args, { encoding: 'utf8', cwd: CONFIG });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

ensurePromToolsInstalled();
const scratch = mkdtempSync(join(tmpdir(), 'spanstat-promtool-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('alerting config with the real Prometheus tools', () => {
  it('promtool accepts the alert rules', () => {
    const { status, output } = run(PROMTOOL_BIN, ['check', 'rules', 'alerts.yml']);
    expect(output).toContain('SUCCESS: 16 rules found');
    expect(status).toBe(0);
  });

  it('promtool unit tests pass: every alert fires in one case and stays quiet in another', () => {
    const { status, output } = run(PROMTOOL_BIN, ['test', 'rules', 'alerts.test.yml']);
    expect(output).toContain('SUCCESS');
    expect(status).toBe(0);
  });

  it('promtool unit tests fail when an expected annotation is wrong', () => {
    // Guards the guard: a wrong expectation must make `promtool test rules` exit non-zero.
    copyFileSync(join(CONFIG, 'alerts.yml'), join(scratch, 'alerts.yml'));
    const broken = readFileSync(join(CONFIG, 'alerts.test.yml'), 'utf8').replace('242.5ms', '241ms');
    writeFileSync(join(scratch, 'alerts.test.yml'), broken);
    const result = spawnSync(PROMTOOL_BIN, ['test', 'rules', 'alerts.test.yml'], {
      encoding: 'utf8',
      cwd: scratch,
    });
    expect(`${result.stdout}${result.stderr}`).toContain('FAILED');
    expect(result.status).not.toBe(0);
  });

  it('promtool accepts the compose Prometheus config with its rule file', () => {
    const { status, output } = run(PROMTOOL_BIN, ['check', 'config', 'prometheus.yml']);
    expect(output).toContain('is valid prometheus config file syntax');
    expect(status).toBe(0);
  });

  it('amtool accepts the Alertmanager config', () => {
    const { status, output } = run(AMTOOL_BIN, ['check-config', 'alertmanager.yml']);
    expect(output).toContain('SUCCESS');
    expect(status).toBe(0);
  });
});
