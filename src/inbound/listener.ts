/**
 * @module One inbound smtp-server listener (mode mta): STARTTLS under our TLS policy, never the
 * library's built-in certificate, AUTH neither advertised nor accepted, and each session's
 * commands handed to its RelaySession.
 */
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { SMTPServer, type SMTPServerOptions, type SMTPServerSession } from 'smtp-server';
import type { ListenerConfig } from '../config/schema.js';
import type { RelayDeps } from '../relay/transaction.js';
import { RelaySession } from '../relay/transaction.js';
import { toServerError } from '../smtp/server-reply.js';
import { replies } from '../smtp/replies.js';
import type { Logger } from '../telemetry/logger.js';
import type { Metrics } from '../telemetry/metrics.js';
import { tlsVersionLabel } from '../telemetry/metrics.js';
import type { TlsFacts } from '../outbound/tls-facts.js';
import { forwardSecret, handshakeFailure } from '../tls/census.js';
import { contextPairs, servedTlsOptions, type ServedPairs } from '../tls/certificate.js';
import type { MinVersion } from '../tls/policy.js';
import { rotateTicketKeys } from '../tls/session-tickets.js';
import type { Authenticator } from '../auth/authenticator.js';
import type { Grant } from '../auth/passthrough.js';
import { authHandler } from './auth-handler.js';
import { setGreetingDelay } from './greeting-delay.js';
import { NetworkSet } from './networks.js';
import { acceptProxyProtocol } from './proxy-protocol.js';
import type { SessionLimits } from './session-limits.js';
import { guardConnections, type InboundHardening } from './connection-guard.js';
import { inboundFacts, inboundTlsFacts } from './session.js';
import {
  disabledCommands,
  mayStartMail,
  refuseUnknownParameters,
  refuseUtf8WithoutSmtpUtf8,
} from './session-policy.js';

export interface ListenerDeps {
  readonly relay: RelayDeps;
  readonly allowedNetworks: NetworkSet;
  /** Every served pair (ECDSA, and RSA for old clients): OpenSSL picks one per handshake. */
  readonly credentials: ServedPairs;
  readonly minVersion: MinVersion;
  readonly hostname: string;
  readonly maxMessageSize: number;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** Concurrent session limits, shared by every listener. */
  readonly limits: SessionLimits;
  /** Rates, budgets and deadlines per session (connection-guard.ts), shared by every listener. */
  readonly hardening: InboundHardening;
  /** Advertise REQUIRETLS (RFC 8689) after STARTTLS. */
  readonly requireTls: boolean;
  /** Present when the config has an auth section; required by listeners that offer AUTH. */
  readonly authenticator?: Authenticator<Grant>;
}

export interface Listener {
  readonly name: string;
  readonly port: number;
  readonly server: SMTPServer;
  /** Sessions still open. */
  readonly sessions: number;
  /** Serve new certificates (every pair) to every new handshake; live sessions keep theirs. */
  useCertificate(credentials: ServedPairs): void;
  /** Stop accepting connections; MAIL from open sessions gets 421 4.3.2 (RFC 5321 §3.8). */
  drain(): void;
  /** Closes what is left: open sessions get smtp-server's 421 and are disconnected. */
  close(): Promise<void>;
}

interface SessionState {
  readonly relay: RelaySession;
  /** Holds a slot in the session limits (admitted at connect). */
  admitted: boolean;
  tls: TlsFacts | undefined;
}

export async function startListener(config: ListenerConfig, deps: ListenerDeps): Promise<Listener> {
  const states = new WeakMap<SMTPServerSession, SessionState>();
  const log = deps.logger.child({ listener: config.name });
  const stateOf = (session: SMTPServerSession): SessionState => {
    let state = states.get(session);
    if (!state) {
      state = { relay: new RelaySession(deps.relay), tls: undefined, admitted: false };
      states.set(session, state);
    }
    return state;
  };
  const facts = (session: SMTPServerSession) =>
    inboundFacts(config.name, session, states.get(session)?.tls);

  const authenticator = config.auth ? deps.authenticator : undefined;
  let draining = false;
  if (config.auth && !authenticator)
    throw new Error(`listener ${config.name} offers AUTH without a users file`);

  const options: SMTPServerOptions = {
    ...servedTlsOptions(deps.minVersion, deps.credentials),
    // RFC 8314 §3: port 465 speaks TLS from the first byte.
    secure: config.mode === 'submissions',
    name: deps.hostname,
    banner: 'starttls-relay',
    size: deps.maxMessageSize,
    // Authentication is enforced at MAIL (mayStartMail), where the reply can say why.
    authOptional: true,
    authMethods: ['PLAIN', 'LOGIN'],
    disabledCommands: disabledCommands(config, false),
    ...(authenticator
      ? {
          onAuth: authHandler(authenticator, config.name, log, deps.metrics, (session, grant) => {
            // The client may have left while its credentials were being checked: then nobody
            // owns the authenticated next-hop session, and it is closed at once.
            const state = states.get(session);
            if (state) state.relay.adopt(grant.nextHop, grant.hop);
            else grant.hop.connection.end();
          }),
        }
      : {}),
    disableReverseLookup: true,
    // RFC 8689 §4.1: offered on TLS sessions only (smtp-server shows it after STARTTLS), and only
    // when every route can honour it (see requireTlsHonoured).
    hideREQUIRETLS: !deps.requireTls,
    // RFC 5321 §4.5.3.2.7: the server waits at least 5 minutes for the next command (default).
    socketTimeout: deps.hardening.limits.idleTimeoutSeconds * 1000,
    logger: false,

    onConnect(session, callback) {
      deps.metrics.inboundConnections.inc({ listener: config.name });
      const admission = deps.limits.admit(session.remoteAddress);
      if (admission !== 'admitted') {
        deps.metrics.sessionsRefused.inc({ listener: config.name, reason: admission });
        callback(
          toServerError(
            admission === 'global_limit'
              ? replies.tooManySessions
              : replies.tooManySessionsFromAddress,
          ),
        );
        return;
      }
      deps.metrics.activeSessions.inc({ listener: config.name });
      stateOf(session).admitted = true;
      session.disabledCommands = disabledCommands(config, session.secure);
      callback();
    },

    onSecure(socket, session, callback) {
      const tls = inboundTlsFacts(socket as TLSSocket);
      stateOf(session).tls = tls;
      deps.metrics.inboundTlsHandshakes.inc({
        listener: config.name,
        tls_version: tlsVersionLabel(tls.protocol),
        forward_secrecy: String(forwardSecret(tls.protocol, tls.cipher)),
      });
      session.disabledCommands = disabledCommands(config, true);
      callback();
    },

    onMailFrom(address, session, callback) {
      if (draining) {
        callback(toServerError(replies.shuttingDown));
        return;
      }
      const refusal =
        mayStartMail(config, { secure: session.secure, authenticated: Boolean(session.user) }) ??
        refuseUnknownParameters('MAIL', address.args, deps.requireTls && session.secure) ??
        refuseUtf8WithoutSmtpUtf8(address.address, address.args);
      if (refusal) {
        callback(toServerError(refusal));
        return;
      }
      stateOf(session).relay.mail(address.address, address.args, facts(session));
      callback();
    },

    onRcptTo(address, session, callback) {
      const unknown =
        refuseUnknownParameters('RCPT', address.args) ??
        refuseUtf8WithoutSmtpUtf8(
          address.address,
          session.envelope.mailFrom && session.envelope.mailFrom.args,
        );
      if (unknown) {
        callback(toServerError(unknown));
        return;
      }
      const client = { address: session.remoteAddress, authenticated: Boolean(session.user) };
      stateOf(session)
        .relay.rcpt(address.address, client)
        .then(
          (reply) => callback(reply.code < 300 ? null : toServerError(reply)),
          (err: unknown) => {
            log.error({ err, session: session.id }, 'recipient handling failed');
            callback(toServerError(replies.internalError));
          },
        );
    },

    onData(stream, session, callback) {
      stateOf(session)
        .relay.data(stream, facts(session))
        .then(
          // An error object carrying 250 gives an exact (and multi-line) mirror of the hop's reply.
          (reply) => callback(toServerError(reply)),
          (err: unknown) => {
            log.error({ err, session: session.id }, 'message handling failed');
            stream.resume();
            callback(toServerError(replies.internalError));
          },
        );
    },

    onClose(session) {
      const state = states.get(session);
      if (!state) return;
      states.delete(session);
      state.relay.close();
      if (!state.admitted) return;
      deps.limits.release(session.remoteAddress);
      deps.metrics.activeSessions.dec({ listener: config.name });
      deps.metrics.inboundSessions.inc({
        listener: config.name,
        tls_version: tlsVersionLabel(state.tls?.protocol),
      });
    },
  };

  const server = new SMTPServer(options);
  rotateTicketKeys(server);
  setGreetingDelay(server, config.greetingDelayMs);
  if (config.proxyProtocol) acceptProxyProtocol(server, new NetworkSet(config.proxyFrom));
  guardConnections(server, deps.hardening, config.name, deps.metrics, (session) =>
    states.get(session)?.relay.reset(),
  );
  // smtp-server reports one failed handshake on several events: count each socket once.
  const failedSockets = new WeakSet<object>();
  server.on('error', (err: Error & { code?: string; remote?: string }) => {
    const tlsFailure = /ssl|tls|handshake/i.test(`${err.code ?? ''} ${err.message}`);
    if (tlsFailure) {
      const key = (err as { socket?: object }).socket ?? err;
      if (!failedSockets.has(key)) {
        failedSockets.add(key);
        deps.metrics.inboundTlsFailures.inc({
          listener: config.name,
          reason: handshakeFailure(err),
        });
      }
    }
    log.debug(
      { err: { code: err.code, message: err.message }, remote: err.remote },
      'inbound connection error',
    );
  });

  await new Promise<void>((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(config.port, config.host, () => {
      server.server.off('error', reject);
      resolve();
    });
  });
  const port = (server.server.address() as AddressInfo).port;
  deps.metrics.listenerStarted(config.name);
  log.info({ host: config.host, port, mode: config.mode }, 'listening');
  let closed: Promise<void> | undefined;
  return {
    name: config.name,
    port,
    server,
    get sessions() {
      return server.connections.size;
    },
    useCertificate(credentials) {
      server.updateSecureContext(contextPairs(credentials));
    },
    drain() {
      draining = true;
      server.server.close();
    },
    close() {
      closed ??= new Promise((resolve) => {
        // A drained listener with no session left has already emitted 'close': nothing waits.
        if (!server.server.listening && server.connections.size === 0) {
          resolve();
          return;
        }
        server.close(() => resolve());
      });
      return closed;
    },
  };
}
