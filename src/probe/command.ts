/**
 * @module `starttls-relay probe DOMAIN|HOST[:PORT] [--json] [--require LEVEL] [--timeout S]`:
 * reports a destination's STARTTLS posture. Exit 0: the level meets `--require` (default
 * `none`); 1: weaker; 2: no MX host, or one unreachable, or a usage error. Levels: see `Level`.
 */
import { promises as dns } from 'node:dns';
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { LEVELS, type Level } from './model.js';
import { isLevel } from './levels.js';
import { probe, type ProbeResolver } from './probe.js';
import { renderJson, renderTable } from './report.js';
import { parseTarget } from './target.js';

export interface ProbeIo {
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown };
}

/** Test seams; production uses the system's resolver, ports 25 and 443, Node's root store. */
export interface ProbeDeps {
  readonly resolver?: ProbeResolver;
  readonly smtpPort?: number;
  readonly httpsPort?: number;
  /** Trust anchors (PEM) for SMTP certificates and the MTA-STS policy host. */
  readonly ca?: string | readonly string[];
  readonly connectTimeoutMs?: number;
  readonly ehloName?: string;
  readonly now?: () => Date;
}

export const PROBE_USAGE = `usage: starttls-relay probe DOMAIN|HOST[:PORT] [--json] [--require LEVEL] [--timeout SECONDS]
  DOMAIN          probe every MX host on port 25, and the domain's MTA-STS and TLS-RPT records
  HOST[:PORT]     probe one host (a name with a port, an address, or [IPv6]:PORT)
  --json          machine-readable output
  --require LEVEL none | encrypted | verified | modern (default none)
                  encrypted: every host offers STARTTLS and completes a handshake
                  verified:  and its certificate chains to a trusted root and matches its name
                  modern:    and it refuses TLS 1.0 and 1.1, and every TLS 1.2 suite it accepts
                             has forward secrecy
  --timeout S     seconds for each connection, connect to handshake (default 20)
exit status: 0 meets the required level, 1 weaker, 2 no MX host or one unreachable`;

/** Postfix's postscreen may hold the greeting about 6 s; 20 s leaves room for a slow handshake. */
const DEFAULT_TIMEOUT_S = 20;
const CONNECT_TIMEOUT_MS = 5000;
const DNS_TIMEOUT_MS = 3000;

function usageError(io: ProbeIo, message: string): number {
  io.stderr.write(`probe: ${message}\n${PROBE_USAGE}\n`);
  return 2;
}

export async function runProbe(argv: string[], io: ProbeIo, deps: ProbeDeps = {}): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        json: { type: 'boolean' },
        require: { type: 'string' },
        timeout: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: true,
    });
  } catch (err) {
    return usageError(io, err instanceof Error ? err.message : String(err));
  }
  const { values, positionals } = parsed;
  if (values.help) {
    io.stdout.write(`${PROBE_USAGE}\n`);
    return 0;
  }
  if (positionals.length !== 1) return usageError(io, 'give one DOMAIN or HOST[:PORT]');
  const text = positionals[0] as string;
  const target = parseTarget(text);
  if (!target) return usageError(io, `not a domain or host[:port]: ${text}`);
  const required = values.require ?? 'none';
  if (!isLevel(required)) {
    return usageError(io, `--require ${required}: one of ${LEVELS.join(', ')}`);
  }
  const timeoutS = values.timeout === undefined ? DEFAULT_TIMEOUT_S : Number(values.timeout);
  if (!Number.isFinite(timeoutS) || timeoutS <= 0 || timeoutS > 600) {
    return usageError(io, `--timeout ${values.timeout ?? ''}: seconds, more than 0, at most 600`);
  }
  const timeoutMs = Math.round(timeoutS * 1000);

  const now = deps.now ?? (() => new Date());
  const report = await probe(text, target, {
    resolver: deps.resolver ?? new dns.Resolver({ timeout: DNS_TIMEOUT_MS, tries: 2 }),
    smtpPort: deps.smtpPort ?? 25,
    httpsPort: deps.httpsPort ?? 443,
    dialogue: {
      ehloName: deps.ehloName ?? hostname(),
      connectTimeoutMs: Math.min(deps.connectTimeoutMs ?? CONNECT_TIMEOUT_MS, timeoutMs),
      timeoutMs,
      ca: deps.ca,
    },
    dnsTimeoutMs: Math.min(DNS_TIMEOUT_MS, timeoutMs),
    now,
    required: required satisfies Level,
  });
  io.stdout.write(values.json ? renderJson(report) : renderTable(report, now()));
  return report.exitCode;
}
