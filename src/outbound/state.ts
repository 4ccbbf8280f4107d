/**
 * @module The relay's per-instance outbound state, opened at start-up and flushed at close: the
 * MTA-STS policy cache, the TLS history per destination and the TLS-RPT counts (all in
 * stateDir; none needed to relay correctly, DESIGN invariant 7).
 */
import type { promises as dns } from 'node:dns';
import { join } from 'node:path';
import type { Config } from '../config/schema.js';
import { TlsHistory } from '../history/tls-history.js';
import { MtaStsSource } from '../mta-sts/source.js';
import type { Resolver } from '../routing/mx.js';
import type { Logger } from '../telemetry/logger.js';
import type { Metrics } from '../telemetry/metrics.js';
import { identityFromConfig } from '../tls-rpt/config-identity.js';
import { startTlsRpt, type RunningTlsRpt } from '../tls-rpt/tls-rpt.js';
import { SessionTelemetry } from './session-telemetry.js';

export interface OutboundState {
  readonly sts: MtaStsSource;
  readonly history: TlsHistory;
  readonly tlsRpt: RunningTlsRpt | undefined;
  readonly telemetry: SessionTelemetry;
  close(): Promise<void>;
}

/** Test seams of the outbound state (RelayOverrides passes them through). */
export interface OutboundStateOverrides {
  readonly mtaStsHttpsPort?: number;
  readonly outboundCa?: string;
  readonly tlsRpt?: { readonly now?: () => Date; readonly checkIntervalMs?: number };
  /** A worker process (src/cluster): its own state directory and TLS-RPT unique id. */
  readonly instance?: { readonly index: number; readonly stateDir: string };
}

/** Opens the MTA-STS cache, the TLS history and TLS-RPT, and the telemetry that feeds them. */
export async function startOutboundState(
  config: Config,
  overrides: OutboundStateOverrides,
  resolver: Resolver & Pick<dns.Resolver, 'resolveTxt'>,
  logger: Logger,
  metrics: Metrics,
): Promise<OutboundState> {
  const { history: h, mtaSts, tlsRpt: rpt } = config.outbound;
  const stateDir = overrides.instance?.stateDir ?? config.stateDir;
  const sts = new MtaStsSource({
    resolver,
    maxEntries: mtaSts.maxEntries,
    metrics,
    logger,
    ...(overrides.mtaStsHttpsPort !== undefined ? { httpsPort: overrides.mtaStsHttpsPort } : {}),
    ...(overrides.outboundCa !== undefined ? { ca: overrides.outboundCa } : {}),
    ...(mtaSts.persist ? { statePath: join(stateDir, 'mta-sts.json') } : {}),
  });
  const history = await TlsHistory.open({
    maxEntries: h.maxEntries,
    ...(h.persist ? { path: join(stateDir, 'tls-history.json') } : {}),
  });
  history.autoFlush(5000, (error) => logger.warn({ error }, 'TLS history not written'));
  const tlsRpt = rpt.enabled
    ? await startTlsRpt({
        stateDir,
        ...identityFromConfig(config, overrides.instance?.index),
        submit: rpt.submit,
        resolver,
        logger,
        ...(overrides.outboundCa !== undefined ? { ca: overrides.outboundCa } : {}),
        ...(overrides.tlsRpt?.now !== undefined ? { now: overrides.tlsRpt.now } : {}),
        ...(overrides.tlsRpt?.checkIntervalMs !== undefined
          ? { checkIntervalMs: overrides.tlsRpt.checkIntervalMs }
          : {}),
      })
    : undefined;
  const telemetry = new SessionTelemetry({
    metrics,
    logger,
    history,
    ...(tlsRpt ? { tlsRpt: tlsRpt.store, tlsRptNoPolicy: rpt.noPolicyDomains } : {}),
    ...(overrides.tlsRpt?.now !== undefined ? { now: overrides.tlsRpt.now } : {}),
  });
  return {
    sts,
    history,
    tlsRpt,
    telemetry,
    async close() {
      await Promise.allSettled([sts.flush(), history.close(), tlsRpt?.close()]);
    },
  };
}
