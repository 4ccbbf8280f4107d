/**
 * @module One outbound connection set up to the point of carrying mail: TCP, greeting, EHLO,
 * STARTTLS when offered (RFC 3207) under the route's TLS settings, EHLO again. Verification is
 * recorded, never required here: the caller judges the session against its policy.
 */
import { isIP } from 'node:net';
import type { SecureVersion } from 'node:tls';
import type { NextHopHost } from '../routing/next-hop.js';
import type { RouteTls } from '../routing/route-tls.js';
import { CIPHERS, tlsPolicy } from '../tls/policy.js';
import type { HopDeadlines } from './deadlines.js';
import { HopConnection } from './hop-connection.js';
import { tlsFacts, type Verification } from './tls-facts.js';
import { sessionKey, type TlsSessionCache } from './tls-sessions.js';

export interface ConnectSettings {
  readonly helo: string;
  readonly deadlines: HopDeadlines;
  readonly route: RouteTls;
  /** Trust anchors when the route has none of its own (PEM); else the system roots. */
  readonly ca?: string;
  /** Never attempt STARTTLS on this connection. */
  readonly plaintext: boolean;
  /**
   * Ignore a route's legacy minVersion: a session that must verify gets TLS 1.2+ and the modern
   * suites only, so weak TLS never satisfies MTA-STS, enforced history or REQUIRETLS.
   */
  readonly modernOnly?: boolean;
  /** TLS sessions offered for resumption and kept from each handshake. */
  readonly sessions?: TlsSessionCache;
}

export type Connected =
  | {
      readonly ok: true;
      readonly connection: HopConnection;
      /** What the full handshake of the offered session established: the facts of a resumed one. */
      readonly carried?: Verification;
    }
  | { readonly ok: false; readonly error: string; readonly duringHandshake: boolean };

/**
 * Forward-secret CBC suites for TLS 1.0/1.1 hops, offered only on routes that lowered
 * minVersion; OpenSSL 3 needs security level 0 for the SHA-1 signatures those versions use.
 */
const LEGACY_SUITES = [
  'ECDHE-ECDSA-AES128-SHA',
  'ECDHE-RSA-AES128-SHA',
  'ECDHE-ECDSA-AES256-SHA',
  'ECDHE-RSA-AES256-SHA',
].join(':');

function tlsOptions(
  route: RouteTls,
  ca: string | undefined,
  servername: string | undefined,
  modernOnly: boolean,
) {
  const legacy = !modernOnly && (route.minVersion === 'TLSv1' || route.minVersion === 'TLSv1.1');
  const trust = route.ca ?? ca;
  const minVersion: SecureVersion =
    legacy || route.minVersion === 'TLSv1.3' ? route.minVersion : 'TLSv1.2';
  return {
    ...tlsPolicy(),
    minVersion,
    ...(legacy ? { ciphers: `${CIPHERS}:${LEGACY_SUITES}:@SECLEVEL=0` } : {}),
    // Judged after the handshake against the policy (RFC 7435 §1.3 for opportunistic hops).
    rejectUnauthorized: false,
    ...(trust !== undefined ? { ca: trust } : {}),
    ...(route.clientCert !== undefined ? { cert: route.clientCert, key: route.clientKey } : {}),
    ...(servername !== undefined ? { servername } : {}),
  };
}

export function connectOnce(
  address: string,
  host: NextHopHost,
  settings: ConnectSettings,
): Promise<Connected> {
  const servername = isIP(host.name) === 0 ? host.name : undefined;
  const { deadlines, sessions } = settings;
  const key =
    sessions &&
    sessionKey(address, host.port, servername, {
      ...settings.route,
      ...(settings.route.ca === undefined && settings.ca !== undefined ? { ca: settings.ca } : {}),
    });
  const offered = key !== undefined && !settings.plaintext ? sessions?.offer(key) : undefined;
  const connection = new HopConnection({
    host: address,
    port: host.port,
    name: settings.helo,
    ...(servername !== undefined ? { servername } : {}),
    ignoreTLS: settings.plaintext,
    // A 454 to STARTTLS continues on this connection in plaintext; a failed handshake does not
    // (nodemailer treats it as fatal): the caller decides whether to retry without TLS.
    opportunisticTLS: true,
    tls: {
      ...tlsOptions(settings.route, settings.ca, servername, settings.modernOnly === true),
      ...(offered ? { session: offered.session } : {}),
    },
    connectionTimeout: deadlines.connectMs + deadlines.setupMs,
    greetingTimeout: deadlines.setupMs,
    socketTimeout: deadlines.finalReplyMs + 60_000,
    logger: false,
  });
  return new Promise((resolve) => {
    let settled = false;
    const settle = (r: Connected): void => {
      if (settled) return;
      settled = true;
      clearTimeout(setupDeadline);
      // A handshake that broke with a session offered must not break the same way again.
      if (!r.ok && r.duringHandshake && offered && key !== undefined) sessions?.forget(key);
      resolve(r);
    };
    // One deadline for the whole setup (greeting, EHLO, STARTTLS, EHLO): nodemailer times only
    // the greeting, and its socketTimeout is far beyond what a client waits for RCPT
    // (RFC 5321 §4.5.3.2.3: 5 minutes).
    const limitMs = deadlines.connectMs + deadlines.setupMs;
    const setupDeadline = setTimeout(() => {
      const duringHandshake = connection.upgrading === true;
      connection.close();
      settle({ ok: false, error: `setup not done within ${limitMs} ms`, duringHandshake });
    }, limitMs);
    connection.on('error', (err: Error & { code?: string; originalCode?: string }) => {
      const detail = [err.code, err.originalCode].filter(Boolean).join('/');
      settle({
        ok: false,
        error: `${detail ? `${detail}: ` : ''}${err.message}`,
        duringHandshake: connection.upgrading === true,
      });
    });
    connection.once('end', () =>
      settle({
        ok: false,
        error: 'connection closed during setup',
        duringHandshake: connection.upgrading === true,
      }),
    );
    connection.connect((err?: Error | null) => {
      if (err) {
        settle({ ok: false, error: err.message, duringHandshake: false });
        return;
      }
      if (sessions && key !== undefined)
        keepSessions(connection, sessions, key, offered?.verification);
      settle({ ok: true, connection, ...(offered ? { carried: offered.verification } : {}) });
    });
  });
}

/**
 * Keeps the session of an encrypted connection for the next one to the same place. A TLS 1.3
 * server sends its tickets after the handshake (RFC 8446 §4.6.1): they have normally arrived with
 * the EHLO reply, and later ones replace them. A resumed session keeps the verification of the
 * full handshake it came from.
 */
function keepSessions(
  connection: HopConnection,
  sessions: TlsSessionCache,
  key: string,
  carried: Verification | undefined,
): void {
  const socket = connection.tlsSocket;
  if (!socket) return;
  const facts = tlsFacts(socket, carried);
  const verification: Verification = {
    verified: facts.verified,
    ...(facts.verifyError !== undefined ? { verifyError: facts.verifyError } : {}),
    ...(facts.peerSubject !== undefined ? { peerSubject: facts.peerSubject } : {}),
    ...(facts.peerNotAfter !== undefined ? { peerNotAfter: facts.peerNotAfter } : {}),
  };
  const current = socket.getSession();
  if (current) sessions.keep(key, current, verification);
  socket.on('session', (session: Buffer) => sessions.keep(key, session, verification));
}
