/**
 * @module What one next-hop session must reach and why: the route's level, an MTA-STS policy
 * (RFC 8461 §5), the destination's TLS history and a REQUIRETLS transaction (RFC 8689 §4.2.1),
 * each a check that is enforced (refuses the host) or report-only (logged and counted).
 */
import type { RouteTls } from '../routing/route-tls.js';
import { meets, type TlsLevel } from '../tls/level.js';

export type PolicySource = 'route' | 'mta-sts' | 'history' | 'requiretls';

export interface PolicyCheck {
  readonly source: PolicySource;
  readonly minimum: TlsLevel;
  /** false: report-only (MTA-STS testing, history without enforceHistory). */
  readonly enforced: boolean;
  /** RFC 8461 §4.1: only MX hosts matching the policy; undefined: any host. */
  readonly mxAllowed?: (host: string) => boolean;
}

/** The MTA-STS policy in force for the destination, for logs and TLS-RPT (RFC 8460 §4.4). */
export interface StsFacts {
  readonly mode: 'enforce' | 'testing' | 'none';
  readonly id: string;
  readonly mx: readonly string[];
}

export interface HopPolicy {
  readonly checks: readonly PolicyCheck[];
  /** RFC 8689 §4.2.1: the hop must advertise REQUIRETLS after STARTTLS. */
  readonly requireTlsExtension: boolean;
  readonly sts?: StsFacts;
  /** The domain publishes MTA-STS but its policy could not be had now (it may be later). */
  readonly stsUnavailable?: true;
}

const LEVEL_OF_ROUTE: Record<RouteTls['level'], TlsLevel> = {
  none: 'none',
  may: 'none',
  encrypt: 'encrypted',
  verify: 'verified',
};

export interface PolicyInputs {
  readonly route: RouteTls;
  readonly sts?: StsFacts & { readonly mxAllowed: (host: string) => boolean };
  /** The best level this destination reached before, when known. */
  readonly history?: TlsLevel;
  readonly requireTls: boolean;
  /** The hosts came from an MX lookup (not a configured route). */
  readonly mx: boolean;
  /** The `_mta-sts` record promised a policy that could not be fetched (RFC 8461 §5.1). */
  readonly stsUnavailable?: boolean;
}

const NO_HOST = (): boolean => false;

export function decidePolicy(inputs: PolicyInputs): HopPolicy {
  const { route, sts, history, requireTls, mx } = inputs;
  const checks: PolicyCheck[] = [
    { source: 'route', minimum: LEVEL_OF_ROUTE[route.level], enforced: true },
  ];
  if (sts && sts.mode !== 'none') {
    // RFC 8461 §5: enforce refuses non-matching MX hosts and unverified TLS; testing reports.
    checks.push({
      source: 'mta-sts',
      minimum: 'verified',
      enforced: sts.mode === 'enforce',
      mxAllowed: sts.mxAllowed,
    });
  }
  if (history !== undefined && history !== 'none') {
    checks.push({ source: 'history', minimum: history, enforced: route.enforceHistory });
  }
  if (requireTls) {
    // RFC 8689 §4.2.1: verified TLS to an MX host the lookup was secured for. Without DNSSEC
    // validation here, only an MTA-STS policy secures an MX lookup; a configured route needs none.
    const secured = sts && sts.mode !== 'none' ? sts.mxAllowed : NO_HOST;
    checks.push({
      source: 'requiretls',
      minimum: 'verified',
      enforced: true,
      ...(mx ? { mxAllowed: secured } : {}),
    });
  }
  return {
    checks,
    requireTlsExtension: requireTls,
    ...(sts ? { sts: { mode: sts.mode, id: sts.id, mx: sts.mx } } : {}),
    ...(inputs.stsUnavailable === true ? { stsUnavailable: true as const } : {}),
  };
}

const RANK: readonly TlsLevel[] = ['none', 'encrypted', 'verified'];

/** The least level every enforced check accepts. */
export function requiredLevel(policy: HopPolicy): TlsLevel {
  let level: TlsLevel = 'none';
  for (const c of policy.checks) {
    if (c.enforced && RANK.indexOf(c.minimum) > RANK.indexOf(level)) level = c.minimum;
  }
  return level;
}

/** The enforced checks that refuse this MX host by name, before any connection. */
export function hostRefusedBy(policy: HopPolicy, host: string): PolicyCheck | undefined {
  return policy.checks.find((c) => c.enforced && c.mxAllowed && !c.mxAllowed(host));
}

/** Every check a session to `host` that reached `level` fails, enforced or not. */
export function failedChecks(policy: HopPolicy, host: string, level: TlsLevel): PolicyCheck[] {
  return policy.checks.filter(
    (c) => !meets(level, c.minimum) || (c.mxAllowed !== undefined && !c.mxAllowed(host)),
  );
}
