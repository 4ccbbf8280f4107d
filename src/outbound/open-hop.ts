/**
 * @module Opening a next-hop session under its policy: each host in preference order, each of its
 * addresses, always attempting STARTTLS when offered (RFC 3207). A session that falls short of an
 * enforced check is closed before any mail and the next host is tried (RFC 8461 §5: "the next
 * MX"); report-only checks are judged and reported the same way, but never refuse. Opportunistic
 * hops (nothing enforced above plaintext) retry a failed handshake once in plaintext.
 */
import type { NextHop, NextHopHost, Router } from '../routing/next-hop.js';
import type { TlsLevel } from '../tls/level.js';
import { connectOnce, type ConnectSettings } from './connect-once.js';
import type { HopDeadlines } from './deadlines.js';
import type { HopConnection } from './hop-connection.js';
import {
  failedChecks,
  hostRefusedBy,
  requiredLevel,
  type HopPolicy,
  type PolicyCheck,
  type PolicySource,
} from './hop-policy.js';
import { PLAINTEXT, tlsFacts, type TlsFacts, type Verification } from './tls-facts.js';
import { certificateResult, type TlsResultType } from './tls-result.js';
import type { TlsSessionCache } from './tls-sessions.js';

/** What became of STARTTLS on one outbound session (a bounded metric label). */
export type StartTlsResult =
  | 'encrypted'
  | 'not_offered'
  | 'failed_fallback'
  | 'disabled'
  /** TLS was required but not offered, refused or broken: closed without mail. */
  | 'failed_deferred'
  /** Encrypted, but short of an enforced check (verification, REQUIRETLS): closed without mail. */
  | 'policy_refused';

/** Why TLS did not happen on a session that stayed in plaintext or was given up. */
export type TlsFailure = 'not_offered' | 'refused' | 'handshake';

/** How one session measured against its policy, for logs. */
export interface PolicyOutcome {
  readonly required: TlsLevel;
  readonly checks: readonly {
    readonly source: PolicySource;
    readonly minimum: TlsLevel;
    readonly enforced: boolean;
    readonly passed: boolean;
  }[];
  readonly mtaSts?: { readonly mode: string; readonly id: string };
}

export interface HopFacts {
  readonly host: string;
  readonly address: string;
  readonly port: number;
  readonly mxPreference: number | null;
  readonly starttls: StartTlsResult;
  /** Why STARTTLS did not encrypt: the refusal or handshake error. */
  readonly starttlsError?: string;
  readonly tls: TlsFacts;
  readonly policy: PolicyOutcome;
  /** Taken warm from the connection cache: judged again against today's policy, same TLS. */
  readonly reused?: true;
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
  /** The enforced policy that refused this host or session. */
  readonly policy?: PolicySource;
  readonly resultType?: TlsResultType;
  /** The refusal may heal (a broken handshake, a timeout): not a definite policy refusal. */
  readonly transient?: true;
}

export type OpenResult =
  | { readonly ok: true; readonly hop: OpenedHop; readonly attempts: readonly FailedAttempt[] }
  | {
      readonly ok: false;
      readonly attempts: readonly FailedAttempt[];
      /** Set when a policy refused at least one host: the reply is a TLS refusal, not 4.4.1. */
      readonly refusedBy?: PolicySource;
      /**
       * Every host was reached (or refused by name) and definitely refused by policy: no
       * connection failure, no broken handshake, no unavailable MTA-STS policy. Only then is a
       * REQUIRETLS refusal permanent (RFC 8689 §5: 550 5.7.30); otherwise it may heal.
       */
      readonly definite?: boolean;
    };

/** One session (or MX host refused by name) judged against the policy: for metrics and TLS-RPT. */
export interface SessionReport {
  readonly nextHop: NextHop;
  readonly host: string;
  /** null: refused by name before connecting. */
  readonly address: string | null;
  readonly policy: HopPolicy;
  readonly starttls: StartTlsResult | null;
  readonly tls: TlsFacts;
  readonly tlsFailure?: TlsFailure;
  /** RFC 8460 result type when the session fell short of TLS or of a check. */
  readonly resultType?: TlsResultType;
  /** Every check it failed, enforced or report-only. */
  readonly failed: readonly PolicyCheck[];
}

export interface OpenDeps {
  /** Our EHLO name. */
  readonly helo: string;
  readonly router: Pick<Router, 'addresses'>;
  readonly deadlines: HopDeadlines;
  /** Trust anchors for verifying next hops instead of the system roots (PEM). */
  readonly ca?: string;
  /** Called for each session that reached EHLO and each MX host refused by name. */
  readonly onSession?: (report: SessionReport) => void;
  /** Called for each address that could not be used. */
  readonly onAttemptFailed?: () => void;
  /** TLS sessions to offer for resumption. */
  readonly tlsSessions?: TlsSessionCache;
}

interface Attempted {
  readonly starttls: StartTlsResult;
  readonly starttlsError?: string;
  readonly tlsFailure?: TlsFailure;
  readonly tls: TlsFacts;
}

function attempted(
  connection: HopConnection,
  plaintext: boolean,
  handshakeError: string | undefined,
  carried: Verification | undefined,
): Attempted {
  const socket = connection.tlsSocket;
  if (socket) return { starttls: 'encrypted', tls: tlsFacts(socket, carried) };
  if (handshakeError !== undefined) {
    return {
      starttls: 'failed_fallback',
      starttlsError: handshakeError,
      tlsFailure: 'handshake',
      tls: PLAINTEXT,
    };
  }
  if (plaintext) return { starttls: 'disabled', tls: PLAINTEXT };
  // Still plaintext: STARTTLS was either absent from EHLO or refused (nodemailer keeps the
  // plaintext EHLO, so a STARTTLS keyword here means the hop answered it with an error).
  if (connection.extensions.has('STARTTLS')) {
    return {
      starttls: 'failed_fallback',
      starttlsError: `STARTTLS refused: ${connection.lastServerResponse || 'error'}`,
      tlsFailure: 'refused',
      tls: PLAINTEXT,
    };
  }
  return { starttls: 'not_offered', tlsFailure: 'not_offered', tls: PLAINTEXT };
}

/** RFC 8460 §4.3.2: the result type of a session that fell short. */
function resultType(a: Attempted, failed: readonly PolicyCheck[]): TlsResultType | undefined {
  if (a.tlsFailure === 'handshake') return 'validation-failure';
  if (a.tlsFailure !== undefined) return 'starttls-not-supported';
  if (a.tls.level === 'encrypted' && failed.some((c) => c.minimum === 'verified')) {
    return certificateResult(a.tls);
  }
  return failed.length > 0 ? 'validation-failure' : undefined;
}

/** How a session with `failed` checks measured against `policy`, for logs. */
export function policyOutcome(
  policy: HopPolicy,
  failed: readonly PolicyCheck[],
  required: TlsLevel,
): PolicyOutcome {
  return {
    required,
    checks: policy.checks.map((c) => ({
      source: c.source,
      minimum: c.minimum,
      enforced: c.enforced,
      passed: !failed.includes(c),
    })),
    ...(policy.sts ? { mtaSts: { mode: policy.sts.mode, id: policy.sts.id } } : {}),
  };
}

export async function openHop(
  nextHop: NextHop,
  policy: HopPolicy,
  deps: OpenDeps,
): Promise<OpenResult> {
  const attempts: FailedAttempt[] = [];
  let refusedBy: PolicySource | undefined;
  let transient = policy.stsUnavailable === true;
  const required = requiredLevel(policy);
  const settings: ConnectSettings = {
    helo: deps.helo,
    deadlines: deps.deadlines,
    route: nextHop.tls,
    ...(deps.ca !== undefined ? { ca: deps.ca } : {}),
    plaintext: nextHop.tls.level === 'none',
    modernOnly: required === 'verified',
    ...(deps.tlsSessions ? { sessions: deps.tlsSessions } : {}),
  };
  const refuse = (attempt: FailedAttempt): void => {
    attempts.push(attempt);
    refusedBy ??= attempt.policy;
    if (attempt.transient) transient = true;
  };

  for (const host of nextHop.hosts) {
    const base = { host: host.name, port: host.port };
    const byName = hostRefusedBy(policy, host.name);
    if (byName) {
      deps.onSession?.({
        nextHop,
        host: host.name,
        address: null,
        policy,
        starttls: null,
        tls: PLAINTEXT,
        resultType: 'validation-failure',
        failed: [byName],
      });
      refuse({
        ...base,
        address: null,
        error: `not an MX host allowed by the ${byName.source} policy`,
        policy: byName.source,
        resultType: 'validation-failure',
      });
      continue;
    }
    const addresses = await deps.router.addresses(nextHop, host);
    if (addresses.length === 0) {
      attempts.push({ ...base, address: null, error: 'no address' });
      transient = true;
      deps.onAttemptFailed?.();
      continue;
    }
    for (const address of addresses) {
      const opened = await openAddress(nextHop, host, address, policy, required, settings, deps);
      if (opened.ok) return { ok: true, hop: opened.hop, attempts };
      if (opened.attempt.policy !== undefined) refuse(opened.attempt);
      else {
        attempts.push(opened.attempt);
        transient = true;
        deps.onAttemptFailed?.();
      }
    }
  }
  return {
    ok: false,
    attempts,
    ...(refusedBy !== undefined ? { refusedBy, definite: !transient } : {}),
  };
}

type AddressResult =
  { readonly ok: true; readonly hop: OpenedHop } | { readonly ok: false; attempt: FailedAttempt };

async function openAddress(
  nextHop: NextHop,
  host: NextHopHost,
  address: string,
  policy: HopPolicy,
  required: TlsLevel,
  settings: ConnectSettings,
  deps: OpenDeps,
): Promise<AddressResult> {
  const base = { host: host.name, address, port: host.port, mxPreference: host.preference };
  const attempt = { host: host.name, address, port: host.port };
  let connected = await connectOnce(address, host, settings);
  let handshakeError: string | undefined;
  if (!connected.ok && connected.duringHandshake) {
    handshakeError = connected.error;
    if (required !== 'none') {
      // A TLS-required hop never falls back to plaintext (RFC 8461 §5, Postfix `encrypt`).
      const failed = failedChecks(policy, host.name, 'none');
      const source = failed.find((c) => c.enforced)?.source ?? 'route';
      deps.onSession?.({
        nextHop,
        host: host.name,
        address,
        policy,
        starttls: 'failed_deferred',
        tls: PLAINTEXT,
        tlsFailure: 'handshake',
        resultType: 'validation-failure',
        failed,
      });
      return {
        ok: false,
        attempt: {
          ...attempt,
          error: `TLS handshake failed: ${connected.error}`,
          policy: source,
          resultType: 'validation-failure',
          transient: true,
        },
      };
    }
    // RFC 3207 §4.1 leaves it to the client; opportunistic policy prefers plaintext to no mail.
    connected = await connectOnce(address, host, { ...settings, plaintext: true });
    if (!connected.ok) {
      return {
        ok: false,
        attempt: { ...attempt, error: `${handshakeError}; plaintext retry: ${connected.error}` },
      };
    }
  }
  if (!connected.ok) return { ok: false, attempt: { ...attempt, error: connected.error } };

  const { connection } = connected;
  const a = attempted(
    connection,
    settings.plaintext && handshakeError === undefined,
    handshakeError,
    connected.carried,
  );
  const failed = failedChecks(policy, host.name, a.tls.level);
  const enforced = failed.find((c) => c.enforced);
  const noExtension =
    enforced === undefined &&
    policy.requireTlsExtension &&
    !connection.extensions.has('REQUIRETLS');
  const type = resultType(a, failed);
  const refused = enforced !== undefined || noExtension;
  const starttls: StartTlsResult = !refused
    ? a.starttls
    : a.tls.level === 'none'
      ? 'failed_deferred'
      : 'policy_refused';
  deps.onSession?.({
    nextHop,
    host: host.name,
    address,
    policy,
    starttls,
    tls: a.tls,
    ...(a.tlsFailure !== undefined ? { tlsFailure: a.tlsFailure } : {}),
    ...(type !== undefined ? { resultType: type } : {}),
    failed,
  });
  if (refused) {
    connection.end();
    const why = noExtension
      ? 'the next hop does not offer REQUIRETLS (RFC 8689 §4.2.1)'
      : a.tls.level === 'none'
        ? `TLS required, but ${a.starttlsError ?? 'STARTTLS was not offered'}`
        : `TLS not verified: ${a.tls.verifyError ?? 'no trusted certificate'}`;
    return {
      ok: false,
      attempt: {
        ...attempt,
        error: why,
        policy: noExtension ? 'requiretls' : (enforced?.source ?? 'route'),
        ...(type !== undefined ? { resultType: type } : {}),
      },
    };
  }
  return {
    ok: true,
    hop: {
      connection,
      facts: {
        ...base,
        starttls: a.starttls,
        ...(a.starttlsError !== undefined ? { starttlsError: a.starttlsError } : {}),
        tls: a.tls,
        policy: policyOutcome(policy, failed, required),
      },
    },
  };
}
