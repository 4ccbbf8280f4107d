/** @module Wiring: config → logger, metrics, certificates, router → listeners and the metrics server. */
import { promises as dns } from 'node:dns';
import type { DestinationStream } from 'pino';
import { Authenticator, usersFileCheck, type CredentialCheck } from './auth/authenticator.js';
import { PassthroughCheck, type Grant } from './auth/passthrough.js';
import { UsersFile } from './auth/users-file.js';
import type { Config } from './config/schema.js';
import { startListener, type Listener } from './inbound/listener.js';
import { NetworkSet } from './inbound/networks.js';
import { DEFAULT_DEADLINES, type HopDeadlines } from './outbound/deadlines.js';
import { openHop } from './outbound/open-hop.js';
import { Router, type AddressLookup, type NextHop } from './routing/next-hop.js';
import type { Resolver } from './routing/mx.js';
import { createLogger, type Logger } from './telemetry/logger.js';
import { startMetricsServer, type MetricsServer } from './telemetry/http.js';
import { Metrics } from './telemetry/metrics.js';
import { transactionSink } from './telemetry/transaction-sink.js';
import { generatedCredentials, loadCredentials, type Credentials } from './tls/certificate.js';

/** Seams for tests and embedding: all optional, production uses the defaults. */
export interface RelayOverrides {
  readonly resolver?: Resolver;
  readonly lookup?: AddressLookup;
  readonly mxPort?: number;
  readonly deadlines?: Partial<HopDeadlines>;
  /** Trust anchors for next-hop verification instead of the system roots (PEM). */
  readonly outboundCa?: string;
  readonly logDestination?: DestinationStream;
  readonly processMetrics?: boolean;
  readonly metricsServer?: boolean;
  /** How often the users file is checked for changes. */
  readonly usersFilePollMs?: number;
}

export interface RunningRelay {
  readonly listeners: ReadonlyMap<string, Listener>;
  readonly metrics: Metrics;
  readonly metricsServer: MetricsServer | undefined;
  readonly logger: Logger;
  readonly credentials: Credentials;
  close(): Promise<void>;
}

export async function startRelay(
  config: Config,
  overrides: RelayOverrides = {},
): Promise<RunningRelay> {
  const logger = createLogger(config.log.level, overrides.logDestination);
  const metrics = new Metrics({ processMetrics: overrides.processMetrics ?? true });
  const credentials =
    config.tls.cert !== undefined && config.tls.key !== undefined
      ? await loadCredentials(config.tls.cert, config.tls.key)
      : await generatedCredentials(config.stateDir, config.hostname);
  logger.info(
    {
      source: credentials.source,
      subject: credentials.subject,
      notAfter: credentials.notAfter.toISOString(),
    },
    'certificate',
  );
  metrics.certificateExpiry.set(
    { source: credentials.source === 'configured' ? 'configured' : 'generated' },
    Math.floor(credentials.notAfter.getTime() / 1000),
  );

  const resolver = overrides.resolver ?? new dns.Resolver({ timeout: 5000, tries: 2 });
  const router = new Router(config.routes, {
    resolver,
    ...(overrides.lookup ? { lookup: overrides.lookup } : {}),
    ...(overrides.mxPort !== undefined ? { mxPort: overrides.mxPort } : {}),
  });
  const deadlines = { ...DEFAULT_DEADLINES, ...overrides.deadlines };
  const allowedNetworks = new NetworkSet(config.relay.allowedNetworks);
  const sink = transactionSink(logger, metrics);
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
  const open = (nextHop: NextHop) =>
    openHop(nextHop, {
      helo: config.hostname,
      router,
      deadlines,
      ...(overrides.outboundCa !== undefined ? { ca: overrides.outboundCa } : {}),
      onStartTls: (r) => metrics.startTls(r),
      onAttemptFailed: () => metrics.outboundConnectFailures.inc(),
    });
  const passthroughHop = config.auth?.passthrough ? router.catchAllHop() : undefined;
  const credentialCheck: CredentialCheck<Grant> | undefined = users
    ? usersFileCheck(users)
    : passthroughHop
      ? new PassthroughCheck(passthroughHop, open, deadlines.commandMs)
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
          policy: { acceptDomains: config.relay.acceptDomains, allowedNetworks },
          resolveNextHop: (domain) => router.resolveNextHop(domain),
          openHop: open,
          deadlines,
          maxMessageSize: config.relay.maxMessageSize,
          maxRecipients: config.relay.maxRecipients,
          sink,
        },
        allowedNetworks,
        credentials,
        minVersion: config.tls.minVersion,
        hostname: config.hostname,
        maxMessageSize: config.relay.maxMessageSize,
        logger,
        metrics,
        ...(authenticator ? { authenticator } : {}),
      });
      listeners.set(listener.name, listener);
    }
  } catch (err) {
    await closeAll();
    users?.close();
    throw err;
  }

  const metricsServer =
    overrides.metricsServer === false
      ? undefined
      : await startMetricsServer(
          metrics,
          config.metrics.host,
          config.metrics.port,
          () => listeners.size === config.listeners.length,
        );

  if (metricsServer) {
    logger.info({ host: config.metrics.host, port: metricsServer.port }, 'metrics listening');
  }

  return {
    listeners,
    metrics,
    metricsServer,
    logger,
    credentials,
    async close() {
      users?.close();
      await closeAll();
      await metricsServer?.close();
      logger.flush();
    },
  };
}
