/**
 * @module Opening a next-hop session: each host in preference order, each of its addresses, always
 * attempting STARTTLS when offered (RFC 3207). Policy `may`: an unverified certificate still
 * encrypts; a failed handshake is retried once in plaintext on a new connection.
 */
import { isIP } from 'node:net';
import type { NextHop, NextHopHost, Router } from '../routing/next-hop.js';
import { tlsPolicy } from '../tls/policy.js';
import type { HopDeadlines } from './deadlines.js';
import { HopConnection } from './hop-connection.js';
import { PLAINTEXT, tlsFacts, type TlsFacts } from './tls-facts.js';

/** What became of STARTTLS on one outbound session (a bounded metric label). */
export type StartTlsResult = 'encrypted' | 'not_offered' | 'failed_fallback' | 'disabled';

export interface HopFacts {
  readonly host: string;
  readonly address: string;
  readonly port: number;
  readonly mxPreference: number | null;
  readonly starttls: StartTlsResult;
  /** Why STARTTLS did not encrypt: the refusal or handshake error. */
  readonly starttlsError?: string;
  readonly tls: TlsFacts;
}

export interface OpenedHop {
  readonly connection: HopConnection;
  readonly facts: HopFacts;
}

export interface FailedAttempt {
  readonly host: string;
  readonly address: string | null;
  readonly port: number;
  readonly error: string;
}

export type OpenResult =
  | { readonly ok: true; readonly hop: OpenedHop; readonly attempts: readonly FailedAttempt[] }
  | { readonly ok: false; readonly attempts: readonly FailedAttempt[] };

export interface OpenDeps {
  /** Our EHLO name. */
  readonly helo: string;
  readonly router: Pick<Router, 'addresses'>;
  readonly deadlines: HopDeadlines;
  /** Trust anchors for verifying next hops instead of the system roots (PEM). */
  readonly ca?: string;
  /** Called once per outbound connection that reached EHLO, for metrics. */
  readonly onStartTls?: (result: StartTlsResult) => void;
  /** Called for each address that could not be used. */
  readonly onAttemptFailed?: () => void;
}

type Connected =
  | { readonly ok: true; readonly connection: HopConnection }
  | { readonly ok: false; readonly error: string; readonly duringHandshake: boolean };

function connectOnce(
  address: string,
  host: NextHopHost,
  plaintext: boolean,
  deps: OpenDeps,
): Promise<Connected> {
  const servername = isIP(host.name) === 0 ? host.name : undefined;
  const connection = new HopConnection({
    host: address,
    port: host.port,
    name: deps.helo,
    ...(servername !== undefined ? { servername } : {}),
    ignoreTLS: plaintext,
    // A 454 to STARTTLS continues on this connection in plaintext; a failed handshake does not
    // (nodemailer treats it as fatal), hence the second connection below.
    opportunisticTLS: true,
    tls: {
      ...tlsPolicy('TLSv1.2'),
      // Opportunistic: verification is recorded, not required (RFC 7435 §1.3).
      rejectUnauthorized: false,
      ...(deps.ca !== undefined ? { ca: deps.ca } : {}),
      ...(servername !== undefined ? { servername } : {}),
    },
    connectionTimeout: deps.deadlines.connectMs + deps.deadlines.setupMs,
    greetingTimeout: deps.deadlines.setupMs,
    socketTimeout: deps.deadlines.finalReplyMs + 60_000,
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

function startTlsOutcome(
  connection: HopConnection,
  route: NextHop['tls'],
): Pick<HopFacts, 'starttls' | 'starttlsError' | 'tls'> {
  const socket = connection.tlsSocket;
  if (socket) return { starttls: 'encrypted', tls: tlsFacts(socket) };
  if (route === 'none') return { starttls: 'disabled', tls: PLAINTEXT };
  // Still plaintext: STARTTLS was either absent from EHLO or refused (nodemailer keeps the
  // plaintext EHLO, so a STARTTLS keyword here means the hop answered it with an error).
  if (connection.extensions.has('STARTTLS')) {
    return {
      starttls: 'failed_fallback',
      starttlsError: `STARTTLS refused: ${connection.lastServerResponse || 'error'}`,
      tls: PLAINTEXT,
    };
  }
  return { starttls: 'not_offered', tls: PLAINTEXT };
}

export async function openHop(nextHop: NextHop, deps: OpenDeps): Promise<OpenResult> {
  const attempts: FailedAttempt[] = [];
  for (const host of nextHop.hosts) {
    const addresses = await deps.router.addresses(nextHop, host);
    if (addresses.length === 0) {
      attempts.push({ host: host.name, address: null, port: host.port, error: 'no address' });
      deps.onAttemptFailed?.();
      continue;
    }
    for (const address of addresses) {
      const first = await connectOnce(address, host, nextHop.tls === 'none', deps);
      const base = { host: host.name, address, port: host.port, mxPreference: host.preference };
      if (first.ok) {
        const outcome = startTlsOutcome(first.connection, nextHop.tls);
        deps.onStartTls?.(outcome.starttls);
        return {
          ok: true,
          hop: { connection: first.connection, facts: { ...base, ...outcome } },
          attempts,
        };
      }
      if (first.duringHandshake) {
        // RFC 3207 §4.1 leaves it to the client; opportunistic policy prefers plaintext to no mail.
        const retry = await connectOnce(address, host, true, deps);
        if (retry.ok) {
          deps.onStartTls?.('failed_fallback');
          return {
            ok: true,
            hop: {
              connection: retry.connection,
              facts: {
                ...base,
                starttls: 'failed_fallback',
                starttlsError: first.error,
                tls: PLAINTEXT,
              },
            },
            attempts,
          };
        }
        attempts.push({
          host: host.name,
          address,
          port: host.port,
          error: `${first.error}; plaintext retry: ${retry.error}`,
        });
        deps.onAttemptFailed?.();
        continue;
      }
      attempts.push({ host: host.name, address, port: host.port, error: first.error });
      deps.onAttemptFailed?.();
    }
  }
  return { ok: false, attempts };
}
