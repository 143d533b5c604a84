import { loadConfig } from '../config';
import { isSpanstatError } from '../errors';
import { createLogger } from '../log';
import { loadReceiverTls } from '../receiver/receiver-tls';
import { startSidecar } from '../sidecar/sidecar';

export interface SidecarCommandOptions {
  config?: string;
  host?: string;
  receiverPort?: number;
  grpcPort?: number;
  apiPort?: number;
  mode?: string;
  tlsCert?: string;
  tlsKey?: string;
  tlsClientCa?: string;
  stateFile?: string;
}

/** The flag behind each setting it overrides, so a bad value is named as the flag's. */
const FLAG_NAMES: Record<string, string> = {
  mode: '--mode',
  'receiver.host': '--host',
  'receiver.port': '--receiver-port',
  'receiver.grpcPort': '--grpc-port',
  'receiver.tlsCertFile': '--tls-cert',
  'receiver.tlsKeyFile': '--tls-key',
  'receiver.tlsClientCaFile': '--tls-client-ca',
  'api.host': '--host',
  'api.port': '--api-port',
  'state.file': '--state-file',
};

/** Why the sidecar did not start, on stderr as plain text. */
function printFailure(err: unknown): void {
  console.error(`spanstat: ${isSpanstatError(err) ? err.message : String(err)}`);
}

export async function runSidecarCommand(options: SidecarCommandOptions): Promise<void> {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig({
      file: options.config,
      overrides: {
        mode: options.mode,
        receiver: {
          host: options.host,
          port: options.receiverPort,
          grpcPort: options.grpcPort,
          tlsCertFile: options.tlsCert,
          tlsKeyFile: options.tlsKey,
          tlsClientCaFile: options.tlsClientCa,
        },
        api: { host: options.host, port: options.apiPort },
        state: { file: options.stateFile },
      },
      overrideNames: FLAG_NAMES,
    });
    // The files the TLS settings name are part of the config: a missing one is exit 2 with its name
    // here, not a failed start (startSidecar reads them again, which checks the same).
    loadReceiverTls(config.receiver);
  } catch (err) {
    printFailure(err);
    process.exitCode = 2;
    return;
  }
  const logger = createLogger(config.log.level);
  // From before the start: startSidecar logs its ready line before it returns, and a supervisor may
  // signal as soon as it reads it (a test did, and Node's default action killed the process).
  const stopper = handleStopSignals(config.shutdown.timeoutMs, logger);
  let sidecar: Awaited<ReturnType<typeof startSidecar>>;
  try {
    sidecar = await startSidecar(config, logger);
  } catch (err) {
    stopper.cancel();
    logger.fatal({ err: isSpanstatError(err) ? err.message : err }, 'spanstat sidecar failed to start');
    // The log is JSON lines for collectors; whoever ran the command reads the reason as the config errors print it.
    printFailure(err);
    process.exitCode = 1;
    return;
  }
  stopper.started(sidecar);
}

/** Exit codes of a process ended by these signals (128 + number), used when a second one cuts the drain short. */
const SIGNAL_EXIT_CODES: Record<string, number> = { SIGINT: 130, SIGTERM: 143 };

type RunningSidecar = Awaited<ReturnType<typeof startSidecar>>;

/**
 * First SIGTERM/SIGINT: stop receiving, drain (startSidecar's shutdown), log one summary line and
 * exit 0; if that takes over `timeoutMs` (shutdown.timeoutMs), log so and exit 1. A second signal
 * meanwhile exits at once, as the operator asked twice (Ctrl-C twice, or a supervisor's retry).
 * Listening from before the sidecar has started: a signal then stops it once `started` hands it over.
 */
function handleStopSignals(
  timeoutMs: number,
  logger: ReturnType<typeof createLogger>,
): { started(sidecar: RunningSidecar): void; cancel(): void } {
  let stopping = false;
  let sidecar: RunningSidecar | undefined;
  let stopWhenStarted = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, 'spanstat sidecar: second signal, exiting now without finishing the drain');
      process.exit(SIGNAL_EXIT_CODES[signal] ?? 1);
    }
    stopping = true;
    logger.info({ signal, timeoutMs }, 'spanstat sidecar stopping');
    if (sidecar) stop(sidecar);
    else stopWhenStarted = true;
  };
  const stop = (running: RunningSidecar) => {
    const timer = setTimeout(() => {
      logger.error(
        { ...running.summary(), timeoutMs },
        'spanstat sidecar: shutdown timed out (shutdown.timeoutMs); exiting with what is left undelivered',
      );
      process.exit(1);
    }, timeoutMs);
    void running.shutdown().then(
      (summary) => {
        clearTimeout(timer);
        logger.info(summary, 'spanstat sidecar stopped');
        process.exit(0);
      },
      (err: unknown) => {
        clearTimeout(timer);
        logger.error(
          { err: err instanceof Error ? err.message : String(err) },
          'spanstat sidecar shutdown failed',
        );
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  return {
    started(running) {
      sidecar = running;
      if (stopWhenStarted) stop(running);
    },
    cancel() {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
    },
  };
}
