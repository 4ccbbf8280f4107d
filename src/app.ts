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
import { nextHopSessions } from './outbound/next-hop-sessions.js';
import { startOutboundState } from './outbound/state.js';
import { Router, type AddressLookup } from './routing/next-hop.js';
import type { Resolver } from './routing/mx.js';
import { readRouteFiles, requireTlsHonoured } from './routing/route-tls.js';
import { createLogger, type Logger } from './telemetry/logger.js';
import { startMetricsServer, type MetricsServer } from './telemetry/http.js';
import { Metrics } from './telemetry/metrics.js';
import { transactionSink } from './telemetry/transaction-sink.js';
import {
  earliestExpiry,
  loadPairs,
  pairSources,
  type Credentials,
  type ServedPairs,
} from './tls/certificate.js';
import { CertificateReloader, unusablePairs } from './tls/reloader.js';

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
  /** The registries to count in (a worker registers them with the primary before it starts). */
  readonly metrics?: Metrics;
  /** This relay is worker `index` of several (src/cluster): its log lines and outbound state. */
  readonly instance?: { readonly index: number; readonly stateDir: string };
}

export interface RunningRelay {
  readonly listeners: ReadonlyMap<string, Listener>;
  readonly metrics: Metrics;
  readonly metricsServer: MetricsServer | undefined;
  readonly logger: Logger;
  /** The primary certificate served now (ECDSA unless configured otherwise). */
  readonly credentials: Credentials;
  /** Every pair served now, one per key type (ECDSA, and RSA for old clients when configured). */
  readonly certificates: ServedPairs;
  /** What /readyz says: every listener bound, not draining, every served certificate valid. */
  ready(): boolean;
  /** SIGHUP: load the certificates again; one bad pair is refused and the current ones stay. */
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
  const rootLogger = createLogger(config.log.level, overrides.logDestination);
  const logger = overrides.instance
    ? rootLogger.child({ worker: overrides.instance.index })
    : rootLogger;
  const metrics =
    overrides.metrics ?? new Metrics({ processMetrics: overrides.processMetrics ?? true });
  const certificateSources = pairSources(config.tls, config.stateDir, config.hostname);
  const certificates = await loadPairs(certificateSources);
  const problem = unusablePairs(certificateSources, certificates);
  if (problem) throw new Error(`the served certificate cannot be used: ${problem}`);
  const announce = (pairs: ServedPairs): void => {
    // A renewal may change a pair's key type: only the pairs served now have a series.
    metrics.certificateExpiry.reset();
    for (const c of pairs) {
      logger.info(
        {
          source: c.source,
          keyType: c.keyType,
          subject: c.subject,
          notAfter: c.notAfter.toISOString(),
        },
        'certificate',
      );
      metrics.certificateExpiry.set(
        { source: c.source === 'configured' ? 'configured' : 'generated', key_type: c.keyType },
        Math.floor(c.notAfter.getTime() / 1000),
      );
    }
  };
  announce(certificates);

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
  const sessions = nextHopSessions(config, {
    router,
    deadlines,
    outbound,
    metrics,
    ...(overrides.outboundCa !== undefined ? { ca: overrides.outboundCa } : {}),
  });
  const passthroughHop = config.auth?.passthrough ? router.catchAllHop() : undefined;
  const credentialCheck: CredentialCheck<Grant> | undefined = users
    ? usersFileCheck(users)
    : passthroughHop
      ? new PassthroughCheck(passthroughHop, sessions.openFresh, deadlines.commandMs)
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
          openHop: sessions.open,
          releaseHop: sessions.release,
          idleHolders: sessions.slots,
          stillFits: sessions.stillFits,
          deadlines,
          maxMessageSize: config.relay.maxMessageSize,
          maxRecipients: config.relay.maxRecipients,
          rejectsBareLineEndings,
          content: { maxHops: config.relay.maxHops, maxHeaderBytes: config.relay.maxHeaderBytes },
          sink,
        },
        allowedNetworks,
        credentials: certificates,
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
    sessions.close();
    users?.close();
    await outbound.close();
    throw err;
  }

  const reloader = new CertificateReloader(certificateSources, certificates, {
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
  // Ready: every listener bound, not draining, and every served certificate still valid (past
  // the earliest expiry, some clients would be served an expired one).
  const ready = (): boolean =>
    !draining &&
    listeners.size === config.listeners.length &&
    earliestExpiry(reloader.current).getTime() > Date.now();
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
      return reloader.current[0];
    },
    get certificates() {
      return reloader.current;
    },
    ready,
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
      sessions.close();
      await outbound.close();
      await metricsServer?.close();
      logger.flush();
    },
  };
}
