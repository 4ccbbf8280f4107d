/**
 * @module The policy of one next-hop session, gathered before connecting: the route, the
 * destination's MTA-STS policy (RFC 8461 §5, MX delivery only), its TLS history and whether the
 * transaction asked for REQUIRETLS (RFC 8689).
 */
import type { TlsHistory } from '../history/tls-history.js';
import { MtaStsSource, type StsLookup } from '../mta-sts/source.js';
import type { NextHop } from '../routing/next-hop.js';
import { destinationOf } from './destination.js';
import { decidePolicy, type HopPolicy } from './hop-policy.js';

/** What the transaction asks of its next hop. */
export interface HopDemand {
  /** RFC 8689: the message carries REQUIRETLS. */
  readonly requireTls: boolean;
}

export interface ResolvedPolicy {
  readonly policy: HopPolicy;
  /** The MTA-STS lookup, when one was made: TLS-RPT reports a failed one. */
  readonly sts?: StsLookup;
}

export interface PolicyResolverDeps {
  readonly sts?: Pick<MtaStsSource, 'policyFor'>;
  readonly history?: Pick<TlsHistory, 'best'>;
}

export async function resolvePolicy(
  nextHop: NextHop,
  demand: HopDemand,
  deps: PolicyResolverDeps,
): Promise<ResolvedPolicy> {
  const route = nextHop.tls;
  const sts =
    route.mtaSts && route.level !== 'none' && deps.sts
      ? await deps.sts.policyFor(nextHop.domain)
      : undefined;
  const policy = sts?.kind === 'policy' ? sts.policy : undefined;
  const history = deps.history?.best(destinationOf(nextHop));
  return {
    policy: decidePolicy({
      route,
      ...(policy
        ? {
            sts: {
              mode: policy.mode,
              id: policy.id,
              mx: policy.mx,
              mxAllowed: (host: string) => MtaStsSource.mxAllowed(policy, host),
            },
          }
        : {}),
      ...(history !== undefined ? { history } : {}),
      requireTls: demand.requireTls,
      mx: nextHop.source === 'mx',
      stsUnavailable: sts?.kind === 'failed',
    }),
    ...(sts ? { sts } : {}),
  };
}
