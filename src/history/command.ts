/**
 * @module `starttls-relay tls-history [--config FILE] [--json]`: the learning report. Lists every
 * destination this instance delivered to with the TLS each session reached, and which stricter
 * route level its history would already pass, so an operator can promote a domain to `encrypt`
 * or `verify` without breaking its mail. Exit 0; 1: unusable config; 2: usage error.
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { defaultConfig } from '../config/default.js';
import { loadConfigFile } from '../config/load.js';
import { instanceStateDirs } from '../cluster/instances.js';
import { readHistoryFile, type DestinationHistory } from './tls-history.js';

export interface CommandIo {
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown };
}

export const TLS_HISTORY_USAGE = `usage: starttls-relay tls-history [--config FILE] [--json]
  lists the destinations this instance delivered to, the TLS their sessions reached, and the
  strictest route level (verify, encrypt) their history passes, read from <stateDir>/tls-history.json
  (with worker processes, from every <stateDir>/worker-N/tls-history.json, merged)
  --config FILE  the relay's config (default: the embedded default config)
  --json         one object per destination`;

/** The strictest route level every recorded session of the destination would have passed. */
export function passes(h: DestinationHistory): 'verify' | 'encrypt' | null {
  if (h.sessions.none > 0) return null;
  return h.sessions.encrypted > 0 ? 'encrypt' : 'verify';
}

const RANK = { none: 0, encrypted: 1, verified: 2 } as const;

/** One history per destination from several instances': sessions summed, the best of bests. */
export function mergeHistories(
  files: readonly ReadonlyMap<string, DestinationHistory>[],
): Map<string, DestinationHistory> {
  const merged = new Map<string, DestinationHistory>();
  for (const file of files) {
    for (const [destination, h] of file) {
      const seen = merged.get(destination);
      if (!seen) {
        merged.set(destination, h);
        continue;
      }
      const newer = h.lastSeen > seen.lastSeen ? h : seen;
      merged.set(destination, {
        best: RANK[h.best] > RANK[seen.best] ? h.best : seen.best,
        last: newer.last,
        firstSeen: h.firstSeen < seen.firstSeen ? h.firstSeen : seen.firstSeen,
        lastSeen: newer.lastSeen,
        sessions: {
          none: seen.sessions.none + h.sessions.none,
          encrypted: seen.sessions.encrypted + h.sessions.encrypted,
          verified: seen.sessions.verified + h.sessions.verified,
        },
      });
    }
  }
  return merged;
}

export function historyPath(stateDir: string): string {
  return join(stateDir, 'tls-history.json');
}

function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows
    .map((r) =>
      r
        .map((cell, i) => cell.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

export async function runTlsHistoryCommand(argv: string[], io: CommandIo): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        config: { type: 'string', short: 'c' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: false,
    }));
  } catch (err) {
    io.stderr.write(`tls-history: ${(err as Error).message}\n${TLS_HISTORY_USAGE}\n`);
    return 2;
  }
  if (values.help) {
    io.stdout.write(`${TLS_HISTORY_USAGE}\n`);
    return 0;
  }
  const loaded =
    values.config === undefined ? defaultConfig() : await loadConfigFile(values.config);
  if (!loaded.ok) {
    io.stderr.write(`tls-history: ${values.config ?? 'embedded default config'}:\n`);
    for (const e of loaded.errors) io.stderr.write(`  ${e}\n`);
    return 1;
  }
  // With worker processes, each keeps its own history: the report is of them all.
  const files = await Promise.all(
    instanceStateDirs(loaded.config).map((dir) => readHistoryFile(historyPath(dir))),
  );
  const entries = [...mergeHistories(files)].sort(([a], [b]) => a.localeCompare(b));
  if (values.json) {
    const list = entries.map(([destination, h]) => ({ destination, ...h, passes: passes(h) }));
    io.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
    return 0;
  }
  if (entries.length === 0) {
    io.stdout.write('no destinations recorded yet\n');
    return 0;
  }
  const rows = [
    [
      'destination',
      'sessions',
      'plaintext',
      'encrypted',
      'verified',
      'best',
      'last seen',
      'passes',
    ],
    ...entries.map(([d, h]) => [
      d,
      String(h.sessions.none + h.sessions.encrypted + h.sessions.verified),
      String(h.sessions.none),
      String(h.sessions.encrypted),
      String(h.sessions.verified),
      h.best,
      h.lastSeen,
      passes(h) ?? '-',
    ]),
  ];
  const verify = entries.filter(([, h]) => passes(h) === 'verify').length;
  const encrypt = entries.filter(([, h]) => passes(h) === 'encrypt').length;
  io.stdout.write(
    `${table(rows)}\n\n${verify} could take tls: verify, ${encrypt} more tls: encrypt, ` +
      `${entries.length - verify - encrypt} reached plaintext\n`,
  );
  return 0;
}
