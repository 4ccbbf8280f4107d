/**
 * @module One outbound connection set up to the point of carrying mail: TCP, greeting, EHLO,
 * STARTTLS when offered (RFC 3207) under the route's TLS settings, EHLO again. Verification is
 * recorded, never required here: the caller judges the session against its policy.
 */
import { isIP } from 'node:net';
import type { NextHopHost } from '../routing/next-hop.js';
import type { RouteTls } from '../routing/route-tls.js';
import { CIPHERS, tlsPolicy } from '../tls/policy.js';
import type { HopDeadlines } from './deadlines.js';
import { HopConnection } from './hop-connection.js';

export interface ConnectSettings {
  readonly helo: string;
  readonly deadlines: HopDeadlines;
  readonly route: RouteTls;
  /** Trust anchors when the route has none of its own (PEM); else the system roots. */
  readonly ca?: string;
  /** Never attempt STARTTLS on this connection. */
  readonly plaintext: boolean;
}

export type Connected =
  | { readonly ok: true; readonly connection: HopConnection }
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

function tlsOptions(route: RouteTls, ca: string | undefined, servername: string | undefined) {
  const legacy = route.minVersion === 'TLSv1' || route.minVersion === 'TLSv1.1';
  const trust = route.ca ?? ca;
  return {
    ...tlsPolicy(),
    minVersion: route.minVersion,
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
  const { deadlines } = settings;
  const connection = new HopConnection({
    host: address,
    port: host.port,
    name: settings.helo,
    ...(servername !== undefined ? { servername } : {}),
    ignoreTLS: settings.plaintext,
    // A 454 to STARTTLS continues on this connection in plaintext; a failed handshake does not
    // (nodemailer treats it as fatal): the caller decides whether to retry without TLS.
    opportunisticTLS: true,
    tls: tlsOptions(settings.route, settings.ca, servername),
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
      resolve(r);
    };
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
      if (err) settle({ ok: false, error: err.message, duringHandshake: false });
      else settle({ ok: true, connection });
    });
  });
}
