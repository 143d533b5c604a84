#!/usr/bin/env node
// First, before the heap grows and before libpg-query loads: V8 heap and WASM flags.
import './apply-v8-flags';
import { Command, InvalidArgumentError } from 'commander';
import { runAdviseCommand } from './advise-command';
import { runDeploysCommand } from './deploys-command';
import { runReportCommand, sortColumnsHelp } from './report-command';
import { runSidecarCommand } from './sidecar-command';

const program = new Command();
program
  .name('spanstat')
  .description('Where your Node.js service spends its time in Postgres and Redis, and what to do about it')
  .version(require('../../package.json').version);

function port(value: string): number {
  // Decimal digits only: Number() would also take '', '1e3' and '0x10' (the SPANSTAT_* variables refuse them).
  const n = /^\d{1,5}$/.test(value.trim()) ? Number(value) : Number.NaN;
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new InvalidArgumentError('must be a port number 0-65535');
  return n;
}

program
  .command('sidecar')
  .description('receive OTLP spans and serve the reports (from one service or many)')
  .option('-c, --config <file>', 'YAML config file (see config/spanstat.yaml)')
  .option('--host <host>', 'bind address for both the receiver and the API')
  .option('--receiver-port <port>', 'OTLP/HTTP port (default 4318)', port)
  .option(
    '--grpc-port <port>',
    'also receive OTLP/gRPC on this port (4317 is the standard one; default off)',
    port,
  )
  .option('--api-port <port>', 'API, page and /metrics port (default 9464)', port)
  .option('--mode <mode>', 'sidecar or collector: a label for the log and /healthz')
  .option('--tls-cert <file>', 'PEM certificate: both receivers serve TLS only (with --tls-key)')
  .option('--tls-key <file>', 'PEM private key of --tls-cert')
  .option('--tls-client-ca <file>', 'PEM CA: require client certificates it signed (mutual TLS)')
  .option(
    '--state-file <file>',
    'keep the deploy history and the recommendations here across restarts (default: in memory only; see state.file)',
  )
  .action(async (options) => {
    await runSidecarCommand(options);
  });

program
  .command('report')
  .description('print a report from a running sidecar as an aligned table')
  .argument(
    '[kind]',
    'queries | services | cache | endpoints | endpoint-queries | endpoint-cache | pools | deploys (versions per service)',
    'queries',
  )
  .option('--api <url>', 'sidecar API base URL', process.env.SPANSTAT_API_URL ?? 'http://127.0.0.1:9464')
  .option('--service <name>', 'only this service')
  .option('--window <window>', 'all | 1m | 5m | 15m', 'all')
  .option('--sort <column>', 'column to sort by, descending (per report, listed below)')
  .option('--limit <n>', 'rows at most', '20')
  .option('--json', 'print the raw JSON instead of a table')
  .option('--wide', 'print whole statements, routes and namespaces instead of cutting them to the column')
  .addHelpText('after', sortColumnsHelp())
  .action(async (kind, options) => {
    process.exitCode =
      kind === 'deploys' ? await runDeploysCommand(options) : await runReportCommand(kind, options);
  });

program
  .command('advise')
  .description("print the advisor's recommendations from a running sidecar")
  .option('--api <url>', 'sidecar API base URL', process.env.SPANSTAT_API_URL ?? 'http://127.0.0.1:9464')
  .option('--service <name>', 'only this service')
  .option('--kind <kind>', 'only this kind (n-plus-one, slow-query, missing-index, cache-hit-rate, …)')
  .option('--state <state>', 'active | resolved (default: both)')
  .option('--brief', 'the table only, without evidence and actions')
  .option('--json', 'print the raw JSON')
  .action(async (options) => {
    process.exitCode = await runAdviseCommand(options);
  });

program.parseAsync(process.argv).catch((err: Error) => {
  console.error(`spanstat: ${err.message}`);
  process.exitCode = 1;
});
