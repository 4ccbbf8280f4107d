#!/usr/bin/env node
/** @module The command line: serve (default) and check-config; signals for a clean stop. */
import cluster from 'node:cluster';
import { parseArgs } from 'node:util';
import { startRelay } from './app.js';
import { workerCount } from './cluster/instances.js';
import { startPrimary } from './cluster/primary.js';
import { runWorker } from './cluster/worker.js';
import { hashPassword } from './auth/password-hash.js';
import { runProbe } from './probe/command.js';
import { runTlsHistoryCommand } from './history/command.js';
import { runTlsRptCommand } from './tls-rpt/command.js';
import { defaultConfig } from './config/default.js';
import { loadConfigFile, type LoadResult } from './config/load.js';
import type { Config } from './config/schema.js';

const USAGE = `usage:
  starttls-relay [serve] [--config FILE]    run the relay (embedded default config without --config)
  starttls-relay check-config --config FILE validate a config file; exit 1 listing every error
  starttls-relay hash-password              read a password on stdin, print its users-file hash
  starttls-relay probe DOMAIN|HOST[:PORT] [--json] [--require none|encrypted|verified|modern]
                                            report a destination's STARTTLS posture
  starttls-relay tls-rpt [--config FILE] [--date YYYY-MM-DD] [--json]
                                            print this instance's TLS-RPT counts of a UTC day
  starttls-relay tls-history [--config FILE] [--json]
                                            list destinations and the TLS level each could take
  starttls-relay --help`;

/** The whole of stdin, less one trailing line end (so `echo pw |` and a typed line both work). */
async function readPassword(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

async function load(configPath: string | undefined): Promise<LoadResult> {
  return configPath === undefined ? defaultConfig() : loadConfigFile(configPath);
}

function reportErrors(source: string, errors: readonly string[]): void {
  process.stderr.write(`${source}: ${errors.length} error${errors.length === 1 ? '' : 's'}\n`);
  for (const e of errors) process.stderr.write(`  ${e}\n`);
}

/** Several worker processes: the primary supervises them until SIGTERM or SIGINT. */
async function servePrimary(config: Config, workers: number): Promise<number> {
  const primary = await startPrimary(config, workers);
  process.on('SIGHUP', () => {
    primary.logger.info({ signal: 'SIGHUP' }, 'reloading the certificate in every worker');
    primary.reload();
  });
  await new Promise<void>((resolve) => {
    const stop = (signal: string): void => {
      primary.logger.info({ signal, drainSeconds: config.shutdown.drainSeconds }, 'stopping');
      primary.stop().then(resolve, resolve);
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  return 0;
}

async function main(argv: string[]): Promise<number> {
  // probe, tls-rpt and tls-history take their own options.
  if (argv[0] === 'probe') return runProbe(argv.slice(1), process);
  if (argv[0] === 'tls-rpt') return runTlsRptCommand(argv.slice(1), process);
  if (argv[0] === 'tls-history') return runTlsHistoryCommand(argv.slice(1), process);
  const { values, positionals } = parseArgs({
    args: argv,
    options: { config: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h' } },
    allowPositionals: true,
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const command = positionals[0] ?? 'serve';
  if (positionals.length > 1) {
    process.stderr.write(`unexpected argument: ${positionals[1]}\n${USAGE}\n`);
    return 2;
  }
  switch (command) {
    case 'check-config': {
      if (values.config === undefined) {
        process.stderr.write(`check-config needs --config FILE\n${USAGE}\n`);
        return 2;
      }
      const result = await loadConfigFile(values.config);
      if (!result.ok) {
        reportErrors(values.config, result.errors);
        return 1;
      }
      process.stdout.write(`${values.config}: ok\n`);
      return 0;
    }
    case 'serve': {
      const result = await load(values.config);
      if (!result.ok) {
        reportErrors(values.config ?? 'embedded default config', result.errors);
        return 1;
      }
      const config = result.config;
      if (cluster.isWorker) {
        await runWorker(config, Number(process.env.STARTTLS_RELAY_WORKER ?? '1'));
        return 0;
      }
      const workers = workerCount(config.workers);
      if (workers > 1) return servePrimary(config, workers);
      const relay = await startRelay(config);
      process.on('SIGHUP', () => {
        relay.logger.info({ signal: 'SIGHUP' }, 'reloading the certificate');
        void relay.reloadCertificate();
      });
      await new Promise<void>((resolve) => {
        const stop = (signal: string): void => {
          relay.logger.info({ signal, drainSeconds: config.shutdown.drainSeconds }, 'stopping');
          relay
            .drain(config.shutdown.drainSeconds * 1000)
            .then(() => relay.close())
            .then(resolve, resolve);
        };
        process.once('SIGTERM', () => stop('SIGTERM'));
        process.once('SIGINT', () => stop('SIGINT'));
      });
      return 0;
    }
    case 'hash-password': {
      const password = await readPassword();
      if (password === '') {
        process.stderr.write('hash-password: empty password on stdin\n');
        return 1;
      }
      process.stdout.write(`${await hashPassword(password)}\n`);
      return 0;
    }
    default:
      process.stderr.write(`unknown command: ${command}\n${USAGE}\n`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`starttls-relay: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
