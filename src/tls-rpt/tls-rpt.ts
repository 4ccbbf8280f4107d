/**
 * @module TLS-RPT wired together for the relay: the per-instance file store under
 * `<stateDir>/tls-rpt` and the daily reporter, from one plain options object (the config's
 * `tlsRpt` section). The outbound side calls `store.record()` once per session.
 */
import { promises as dns } from 'node:dns';
import { join } from 'node:path';
import type { Logger } from '../telemetry/logger.js';
import type { AggregateLimits } from './aggregate.js';
import { FileTlsRptStore } from './file-store.js';
import { TlsRptReporter, type ReporterOptions } from './reporter.js';
import type { TlsRptStore } from './store.js';

export interface TlsRptOptions {
  /** The relay's state directory; the day files go to `<stateDir>/tls-rpt`. */
  readonly stateDir: string;
  /** `organization-name` of the reports. */
  readonly organizationName: string;
  /** `contact-info` of the reports: an email address; its domain names the report files. */
  readonly contactInfo: string;
  /** Default `<stateDir>/tls-rpt/reports`. */
  readonly reportDirectory?: string;
  /** POST reports to the domains' `https:` rua. */
  readonly submit: boolean;
  /** Tells this instance's reports apart (letters and digits), e.g. from the host name. */
  readonly uniqueId?: string;
  readonly limits?: Partial<AggregateLimits>;
  readonly logger?: Pick<Logger, 'info' | 'warn' | 'error'>;
  /** Test seams; production: the system's DNS servers, Node's roots, the real clock. */
  readonly resolver?: ReporterOptions['resolver'];
  readonly ca?: string | readonly string[];
  readonly now?: () => Date;
  readonly flushIntervalMs?: number;
  readonly checkIntervalMs?: number;
}

export interface RunningTlsRpt {
  readonly store: TlsRptStore;
  readonly reporter: TlsRptReporter;
  /** Stops the reporter, then writes the store's last counts. */
  close(): Promise<void>;
}

/** Where the per-instance day files live. */
export function tlsRptStateDirectory(stateDir: string): string {
  return join(stateDir, 'tls-rpt');
}

export async function startTlsRpt(options: TlsRptOptions): Promise<RunningTlsRpt> {
  const directory = tlsRptStateDirectory(options.stateDir);
  const store = await FileTlsRptStore.open({
    directory,
    ...(options.flushIntervalMs !== undefined ? { flushIntervalMs: options.flushIntervalMs } : {}),
    ...(options.limits !== undefined ? { limits: options.limits } : {}),
    ...(options.now !== undefined ? { now: options.now } : {}),
    ...(options.logger !== undefined ? { logger: options.logger } : {}),
  });
  const reporter = new TlsRptReporter({
    store,
    reportDirectory: options.reportDirectory ?? join(directory, 'reports'),
    identity: {
      organizationName: options.organizationName,
      contactInfo: options.contactInfo,
      ...(options.uniqueId !== undefined ? { uniqueId: options.uniqueId } : {}),
    },
    submit: options.submit,
    resolver: options.resolver ?? new dns.Resolver({ timeout: 5000, tries: 2 }),
    ...(options.ca !== undefined ? { ca: options.ca } : {}),
    ...(options.now !== undefined ? { now: options.now } : {}),
    ...(options.logger !== undefined ? { logger: options.logger } : {}),
    ...(options.checkIntervalMs !== undefined ? { checkIntervalMs: options.checkIntervalMs } : {}),
  });
  // Past days are reported in the background: start-up does not wait for rua servers.
  void reporter.start();
  return {
    store,
    reporter,
    async close() {
      await reporter.close();
      await store.close();
    },
  };
}
