/** @module Wiring: config → logger, metrics, certificates, router → listeners and the metrics server. */
import { promises as dns } from 'node:dns';
import type { DestinationStream } from 'pino';
import { Authenticator, usersFileCheck, type CredentialCheck } from './auth/authenticator.js';
import { PassthroughCheck, type Grant } from './auth/passthrough.js';
import { UsersFile } from './auth/users-file.js';
import type { Config } from './config/schema.js';
import { startListener, type Listener } from './inbound/listener.js';
import { NetworkSet } from './inbound/networks.js';
import { SessionLimits } from './inbound/session-limits.js';
import { inboundHardening } from './inbound/connection-guard.js';
import { DEFAULT_DEADLINES, type HopDeadlines } from './outbound/deadlines.js';
import { acceptable, ConnectionPool } from './outbound/connection-pool.js';
import { openHop, type OpenResult } from './outbound/open-hop.js';
import { resolvePolicy, type HopDemand, type ResolvedPolicy } from './outbound/policy-resolver.js';
import { startOutboundState } from './outbound/state.js';
import { TlsSessionCache } from './outbound/tls-sessions.js';
import { Router, type AddressLookup, type NextHop } from './routing/next-hop.js';
import type { Resolver } from './routing/mx.js';
import { readRouteFiles, requireTlsHonoured } from './routing/route-tls.js';
import { createLogger, type Logger } from './telemetry/logger.js';
import { startMetricsServer, type MetricsServer } from './telemetry/http.js';
import { Metrics } from './telemetry/metrics.js';
import { transactionSink } from './telemetry/transaction-sink.js';
import { generatedCredentials, loadCredentials, type Credentials } from './tls/certificate.js';
import { CertificateReloader, unusable, type CertificateSource } from './tls/reloader.js';

/** How long a pooled next-hop session may take to answer the RSET that checks it. */
const POOL_CHECK_MS = 15_000;

/** Seams for tests and embedding: all optional, production uses the defaults. */
export interface RelayOverrides {
  /** MX, address and TXT lookups (MTA-STS, TLS-RPT). */
  readonly resolver?: Resolver & Pick<dns.Resolver, 'resolveTxt'>;
  /** Where MTA-STS policies are fetched (443 in production). */
  readonly mtaStsHttpsPort?: number;
  /** TLS-RPT's clock and its background intervals (day rollover tests). */
  readonly tlsRpt?: { readonly now?: () => Date; readonly checkIntervalMs?: number };
  readonly lookup?: AddressLookup;
  readonly mxPort?: number;
  readonly deadlines?: Partial<HopDeadlines>;
  /** Trust anchors for next-hop and MTA-STS verification instead of the system roots (PEM). */
  readonly outboundCa?: string;
  readonly logDestination?: DestinationStream;
  readonly processMetrics?: boolean;
  readonly metricsServer?: boolean;
  /** How often the configured certificate files are checked for changes. */
  readonly certificatePollMs?: number;
  /** How often the users file is checked for changes. */
  readonly usersFilePollMs?: number;
}

export interface RunningRelay {
  readonly listeners: ReadonlyMap<string, Listener>;
  readonly metrics: Metrics;
  readonly metricsServer: MetricsServer | undefined;
  readonly logger: Logger;
  /** The certificate served now. */
  readonly credentials: Credentials;
  /** SIGHUP: load the certificate again; a bad pair is refused and the current one stays. */
  reloadCertificate(): Promise<boolean>;
  /**
   * SIGTERM: stop accepting, let open transactions finish (new MAIL gets 421 4.3.2) for at most
   * `deadlineMs`, then close what is left.
   */
  drain(deadlineMs: number): Promise<void>;
  close(): Promise<void>;
}

export async function startRelay(
  config: Config,
  overrides: RelayOverrides = {},
): Promise<RunningRelay> {
  const logger = createLogger(config.log.level, overrides.logDestination);
  const metrics = new Metrics({ processMetrics: overrides.processMetrics ?? true });
  const certificateSource: CertificateSource =
    config.tls.cert !== undefined && config.tls.key !== undefined
      ? { kind: 'files', cert: config.tls.cert, key: config.tls.key }
      : { kind: 'generated', stateDir: config.stateDir, hostname: config.hostname };
  const credentials =
    certificateSource.kind === 'files'
      ? await loadCredentials(certificateSource.cert, certificateSource.key)
      : await generatedCredentials(certificateSource.stateDir, certificateSource.hostname);
  const problem = unusable(credentials);
  if (problem) throw new Error(`the served certificate cannot be used: ${problem}`);
  const announce = (c: Credentials): void => {
    logger.info(
      { source: c.source, subject: c.subject, notAfter: c.notAfter.toISOString() },
      'certificate',
    );
    metrics.certificateExpiry.set(
      { source: c.source === 'configured' ? 'configured' : 'generated' },
      Math.floor(c.notAfter.getTime() / 1000),
    );
  };
  announce(credentials);

  const resolver = overrides.resolver ?? new dns.Resolver({ timeout: 5000, tries: 2 });
  const router = new Router(config.routes, {
    resolver,
    routeFiles: await readRouteFiles(config.routes),
    ...(overrides.lookup ? { lookup: overrides.lookup } : {}),
    ...(overrides.mxPort !== undefined ? { mxPort: overrides.mxPort } : {}),
  });
  const deadlines = { ...DEFAULT_DEADLINES, ...overrides.deadlines };
  const allowedNetworks = new NetworkSet(config.relay.allowedNetworks);
  const bareNewlineExempt = new NetworkSet(
    config.relay.bareNewlineExempt ?? config.relay.allowedNetworks,
  );
  const rejectsBareLineEndings = (client: string): boolean =>
    config.relay.bareNewline === 'reject' && !bareNewlineExempt.contains(client);
  const sink = transactionSink(logger, metrics);
  const limits = new SessionLimits(config.limits.maxSessions, config.limits.maxSessionsPerAddress);
  const hardening = inboundHardening(config.limits, config.relay.allowedNetworks);
  const users =
    config.auth?.usersFile !== undefined ? await UsersFile.load(config.auth.usersFile) : undefined;
  users?.watch(
    {
      reloaded: (count) => logger.info({ users: count }, 'users file reloaded'),
      reloadFailed: (errors) =>
        logger.error({ errors }, 'users file not reloaded, keeping the previous one'),
    },
    overrides.usersFilePollMs,
  );
  const outbound = await startOutboundState(config, overrides, resolver, logger, metrics);
  const { connectionCache, tlsResumption } = config.outbound;
  const pool = new ConnectionPool(connectionCache, {
    // A warm session that cannot answer RSET quickly is dead: open a new one instead of
    // holding the client for a whole command deadline.
    checkMs: Math.min(deadlines.commandMs, POOL_CHECK_MS),
    observer: {
      hit: () => metrics.connectionCacheHits.inc(),
      miss: () => metrics.connectionCacheMisses.inc(),
      evicted: (reason) => metrics.connectionCacheEvictions.inc({ reason }),
      idle: (count) => metrics.connectionCacheIdle.set(count),
    },
  });
  const tlsSessions = tlsResumption.enabled
    ? new TlsSessionCache({ maxEntries: tlsResumption.maxEntries })
    : undefined;
  /** A new session under the policy resolved now: a TLS session of its own, reported as such. */
  const openNew = async (nextHop: NextHop, resolved: ResolvedPolicy): Promise<OpenResult> => {
    if (resolved.sts) outbound.telemetry.stsLookupFailed(nextHop.domain, resolved.sts);
    const opened = await openHop(nextHop, resolved.policy, {
      helo: config.hostname,
      router,
      deadlines,
      ...(overrides.outboundCa !== undefined ? { ca: overrides.outboundCa } : {}),
      ...(tlsSessions ? { tlsSessions } : {}),
      onSession: (report) => {
        outbound.telemetry.session(report);
        if (report.tls.resumed) metrics.outboundTlsResumptions.inc();
      },
      onAttemptFailed: () => metrics.outboundConnectFailures.inc(),
    });
    if (opened.ok) pool.opened(opened.hop.connection);
    if (!opened.ok && opened.refusedBy !== undefined) {
      metrics.policyRefusals.inc({ policy: opened.refusedBy });
    }
    return opened;
  };
  /** AUTH passthrough: always a new session, since it becomes the client's alone. */
  const openFresh = async (nextHop: NextHop, demand: HopDemand = { requireTls: false }) =>
    openNew(nextHop, await resolvePolicy(nextHop, demand, outbound));
  /** Client sessions: a warm session from the cache when today's policy accepts one. */
  const open = async (nextHop: NextHop, demand: HopDemand = { requireTls: false }) => {
    const resolved = await resolvePolicy(nextHop, demand, outbound);
    const warm = await pool.take(nextHop, resolved.policy);
    return warm ? { ok: true as const, hop: warm, attempts: [] } : openNew(nextHop, resolved);
  };
  const passthroughHop = config.auth?.passthrough ? router.catchAllHop() : undefined;
  const credentialCheck: CredentialCheck<Grant> | undefined = users
    ? usersFileCheck(users)
    : passthroughHop
      ? new PassthroughCheck(passthroughHop, openFresh, deadlines.commandMs)
      : undefined;
  const authenticator =
    credentialCheck && config.auth
      ? new Authenticator(credentialCheck, config.auth.failures)
      : undefined;

  const listeners = new Map<string, Listener>();
  const closeAll = async (): Promise<void> => {
    await Promise.all([...listeners.values()].map((l) => l.close()));
  };
  try {
    for (const listenerConfig of config.listeners) {
      const listener = await startListener(listenerConfig, {
        relay: {
          hostname: config.hostname,
          policy: {
            acceptDomains: config.relay.acceptDomains,
            allowedNetworks,
            postmasterDomain: config.hostname.toLowerCase(),
          },
          resolveNextHop: (domain) => router.resolveNextHop(domain),
          openHop: open,
          releaseHop: (nextHop, hop, transactions) => pool.release(nextHop, hop, transactions),
          stillFits: async (nextHop, hop, demand) =>
            acceptable(hop, nextHop, (await resolvePolicy(nextHop, demand, outbound)).policy),
          deadlines,
          maxMessageSize: config.relay.maxMessageSize,
          maxRecipients: config.relay.maxRecipients,
          rejectsBareLineEndings,
          content: { maxHops: config.relay.maxHops, maxHeaderBytes: config.relay.maxHeaderBytes },
          sink,
        },
        allowedNetworks,
        credentials,
        minVersion: config.tls.minVersion,
        requireTls: requireTlsHonoured(config.routes),
        hostname: config.hostname,
        maxMessageSize: config.relay.maxMessageSize,
        logger,
        metrics,
        limits,
        hardening,
        ...(authenticator ? { authenticator } : {}),
      });
      listeners.set(listener.name, listener);
    }
  } catch (err) {
    await closeAll();
    pool.close();
    users?.close();
    await outbound.close();
    throw err;
  }

  const reloader = new CertificateReloader(certificateSource, credentials, {
    applied(next) {
      for (const l of listeners.values()) l.useCertificate(next);
      metrics.certificateReloads.inc({ result: 'success' });
      announce(next);
    },
    failed(error) {
      metrics.certificateReloads.inc({ result: 'failure' });
      logger.error({ error }, 'certificate not reloaded, the current one stays');
    },
  });
  reloader.watch(overrides.certificatePollMs);

  let draining = false;
  // Ready: every listener bound, not draining, and the served certificate still valid.
  const ready = (): boolean =>
    !draining &&
    listeners.size === config.listeners.length &&
    reloader.current.notAfter.getTime() > Date.now();
  const metricsServer =
    overrides.metricsServer === false
      ? undefined
      : await startMetricsServer(metrics, config.metrics.host, config.metrics.port, ready);

  if (metricsServer) {
    logger.info({ host: config.metrics.host, port: metricsServer.port }, 'metrics listening');
  }

  return {
    listeners,
    metrics,
    metricsServer,
    logger,
    get credentials() {
      return reloader.current;
    },
    reloadCertificate: () => reloader.reload(),
    async drain(deadlineMs) {
      draining = true;
      for (const l of listeners.values()) l.drain();
      const open = (): number => [...listeners.values()].reduce((n, l) => n + l.sessions, 0);
      logger.info({ sessions: open(), deadlineMs }, 'draining');
      const until = Date.now() + deadlineMs;
      while (open() > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
      if (open() > 0) logger.warn({ sessions: open() }, 'drain deadline reached, closing the rest');
    },
    async close() {
      reloader.close();
      users?.close();
      await closeAll();
      // After the listeners: client sessions ending now hand their sessions back, to be QUIT here.
      pool.close();
      await outbound.close();
      await metricsServer?.close();
      logger.flush();
    },
  };
}
