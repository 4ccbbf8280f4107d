/**
 * @module `starttls-relay tls-rpt [--config FILE] [--date YYYY-MM-DD] [--json]`: prints one UTC
 * day's TLS-RPT counts of this instance (today so far by default), as a table or as the RFC 8460
 * reports that day would produce. Exit 0; 1: unusable config or state; 2: usage error.
 */
import { parseArgs } from 'node:util';
import { instanceStateDirs, workerCount } from '../cluster/instances.js';
import { defaultConfig } from '../config/default.js';
import { loadConfigFile } from '../config/load.js';
import { isDay, utcDay } from './day.js';
import { readDayFile } from './day-file.js';
import { renderDayTable } from './render.js';
import { identityFromConfig } from './config-identity.js';
import { buildReport } from './report.js';
import { tlsRptStateDirectory } from './tls-rpt.js';

export interface TlsRptIo {
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown };
}

export interface TlsRptCommandDeps {
  readonly now?: () => Date;
  /** The directory relative paths of the embedded default config resolve against. */
  readonly cwd?: string;
}

export const TLS_RPT_USAGE = `usage: starttls-relay tls-rpt [--config FILE] [--date YYYY-MM-DD] [--json]
  prints this instance's TLS-RPT (RFC 8460) sessions of one UTC day, read from <stateDir>/tls-rpt
  (with worker processes, each worker's from <stateDir>/worker-N/tls-rpt)
  --config FILE  the relay's config (default: the embedded default config)
  --date DAY     the UTC day (default: today, so far)
  --json         the RFC 8460 reports the day gives, one per policy domain`;

function usageError(io: TlsRptIo, message: string): number {
  io.stderr.write(`tls-rpt: ${message}\n${TLS_RPT_USAGE}\n`);
  return 2;
}

export async function runTlsRptCommand(
  argv: string[],
  io: TlsRptIo,
  deps: TlsRptCommandDeps = {},
): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        config: { type: 'string', short: 'c' },
        date: { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: false,
    });
  } catch (err) {
    return usageError(io, err instanceof Error ? err.message : String(err));
  }
  const { values } = parsed;
  if (values.help) {
    io.stdout.write(`${TLS_RPT_USAGE}\n`);
    return 0;
  }
  const today = utcDay((deps.now ?? (() => new Date()))());
  const date = values.date ?? today;
  if (!isDay(date)) return usageError(io, `--date ${date}: a UTC day written YYYY-MM-DD`);

  const loaded =
    values.config === undefined ? defaultConfig(deps.cwd) : await loadConfigFile(values.config);
  if (!loaded.ok) {
    const n = loaded.errors.length;
    const source = values.config ?? 'embedded default config';
    io.stderr.write(`tls-rpt: ${source}: ${n} error${n === 1 ? '' : 's'}\n`);
    for (const e of loaded.errors) io.stderr.write(`  ${e}\n`);
    return 1;
  }
  // Worker processes are instances of their own: each counts and reports its sessions.
  const several = workerCount(loaded.config.workers) > 1;
  const instances = instanceStateDirs(loaded.config).map((stateDir, i) => ({
    directory: tlsRptStateDirectory(stateDir),
    identity: identityFromConfig(loaded.config, several ? i + 1 : undefined),
  }));
  const days = [];
  try {
    for (const instance of instances) {
      days.push({
        ...instance,
        domains: (await readDayFile(instance.directory, date))?.domains ?? [],
      });
    }
  } catch (err) {
    io.stderr.write(`tls-rpt: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
  if (values.json) {
    const reports = days.flatMap((d) => d.domains.map((a) => buildReport(a, date, d.identity)));
    io.stdout.write(`${JSON.stringify(reports, null, 2)}\n`);
  } else {
    for (const d of days) {
      io.stdout.write(
        renderDayTable(d.domains, { date, today: date === today, directory: d.directory }),
      );
    }
  }
  return 0;
}
