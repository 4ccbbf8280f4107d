/**
 * @module One UTC day's counts in memory: sessions per policy domain and policy, failure details
 * grouped by their fields (RFC 8460 §4.4), everything bounded so a busy day cannot exhaust memory.
 */
import { domainToASCII } from 'node:url';
import type {
  DomainAggregate,
  FailureDetail,
  PolicyAggregate,
  TlsRptEvent,
  TlsRptPolicy,
} from './model.js';

export interface AggregateLimits {
  /** Distinct policy domains per day; sessions to further domains are not counted. */
  readonly maxDomains: number;
  /** Distinct policies per domain per day (a policy changes a few times a day at most). */
  readonly maxPoliciesPerDomain: number;
  /** Distinct `failure-details` rows per policy per day; further failures count in the summary only. */
  readonly maxDetailsPerPolicy: number;
}

export const DEFAULT_LIMITS: AggregateLimits = {
  maxDomains: 100_000,
  maxPoliciesPerDomain: 8,
  maxDetailsPerPolicy: 100,
};

/** `counted`, or why the session was left out of the day's counts. */
export type AddOutcome = 'counted' | 'invalid-domain' | 'too-many-domains' | 'too-many-policies';

/** LDH labels (RFC 5890 A-labels included): what a policy domain, a TXT name and a file name need. */
const DOMAIN =
  /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

export function isPolicyDomain(domain: string): boolean {
  return DOMAIN.test(domain);
}

interface MutableDetail {
  readonly detail: Omit<FailureDetail, 'count'>;
  count: number;
}

interface MutablePolicy {
  readonly policy: TlsRptPolicy;
  successful: number;
  failed: number;
  detailsDropped: number;
  readonly details: Map<string, MutableDetail>;
}

/**
 * The policy domain as reports name it: lower case, no trailing dot, A-labels for an
 * internationalized name (RFC 8460 §4.4 `policy-domain`).
 */
export function normalizeDomain(domain: string): string {
  const lower = domain.trim().replace(/\.$/, '').toLowerCase();
  const ascii = domainToASCII(lower);
  return ascii === '' ? lower : ascii;
}

/** `policy-string` and `mx-host` describe an sts (or tlsa) policy only; none for no-policy-found. */
function normalizePolicy(policy: TlsRptPolicy): TlsRptPolicy {
  if (policy.type !== 'sts') return { type: policy.type };
  return {
    type: 'sts',
    ...(policy.string !== undefined ? { string: [...policy.string] } : {}),
    ...(policy.mxHost !== undefined ? { mxHost: [...policy.mxHost] } : {}),
  };
}

function policyKey(p: TlsRptPolicy): string {
  return JSON.stringify([p.type, p.string ?? null, p.mxHost ?? null]);
}

function detailKey(d: Omit<FailureDetail, 'count'>): string {
  return JSON.stringify([
    d.resultType,
    d.sendingMtaIp ?? null,
    d.receivingMxHostname ?? null,
    d.receivingIp ?? null,
    d.failureReasonCode ?? null,
  ]);
}

export class DayAggregate {
  private readonly domains = new Map<string, Map<string, MutablePolicy>>();

  constructor(private readonly limits: AggregateLimits = DEFAULT_LIMITS) {}

  /** The aggregate a snapshot describes (a day read back from disk). */
  static from(
    domains: readonly DomainAggregate[],
    limits: AggregateLimits = DEFAULT_LIMITS,
  ): DayAggregate {
    const day = new DayAggregate(limits);
    for (const d of domains) {
      if (!isPolicyDomain(normalizeDomain(d.policyDomain))) continue;
      const policies = new Map<string, MutablePolicy>();
      for (const p of d.policies) {
        const details = new Map<string, MutableDetail>();
        for (const { count, ...detail } of p.failureDetails) {
          details.set(detailKey(detail), { detail, count });
        }
        const policy = normalizePolicy(p.policy);
        policies.set(policyKey(policy), {
          policy,
          successful: p.successful,
          failed: p.failed,
          detailsDropped: p.detailsDropped,
          details,
        });
      }
      day.domains.set(normalizeDomain(d.policyDomain), policies);
    }
    return day;
  }

  get domainCount(): number {
    return this.domains.size;
  }

  add(event: TlsRptEvent): AddOutcome {
    const domain = normalizeDomain(event.policyDomain);
    // An address literal or junk has no _smtp._tls record and must not reach a file name.
    if (!isPolicyDomain(domain)) return 'invalid-domain';
    let policies = this.domains.get(domain);
    if (!policies) {
      if (this.domains.size >= this.limits.maxDomains) return 'too-many-domains';
      policies = new Map();
      this.domains.set(domain, policies);
    }
    const policy = normalizePolicy(event.policy);
    const key = policyKey(policy);
    let counts = policies.get(key);
    if (!counts) {
      if (policies.size >= this.limits.maxPoliciesPerDomain) return 'too-many-policies';
      counts = { policy, successful: 0, failed: 0, detailsDropped: 0, details: new Map() };
      policies.set(key, counts);
    }
    const result = event.result;
    if (result.ok) {
      counts.successful++;
      return 'counted';
    }
    counts.failed++;
    const detail: Omit<FailureDetail, 'count'> = {
      resultType: result.resultType,
      ...(result.sendingMtaIp !== undefined ? { sendingMtaIp: result.sendingMtaIp } : {}),
      ...(result.receivingMxHostname !== undefined
        ? { receivingMxHostname: result.receivingMxHostname.replace(/\.$/, '').toLowerCase() }
        : {}),
      ...(result.receivingIp !== undefined ? { receivingIp: result.receivingIp } : {}),
      ...(result.failureReasonCode !== undefined
        ? { failureReasonCode: result.failureReasonCode }
        : {}),
    };
    const dk = detailKey(detail);
    const row = counts.details.get(dk);
    if (row) row.count++;
    else if (counts.details.size < this.limits.maxDetailsPerPolicy) {
      counts.details.set(dk, { detail, count: 1 });
    } else counts.detailsDropped++;
    return 'counted';
  }

  /** An immutable copy: domains sorted by name, policies and rows in first-seen order. */
  snapshot(): DomainAggregate[] {
    return [...this.domains.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([policyDomain, policies]) => ({
        policyDomain,
        policies: [...policies.values()].map((p): PolicyAggregate => ({
          policy: p.policy,
          successful: p.successful,
          failed: p.failed,
          failureDetails: [...p.details.values()].map((r) => ({ ...r.detail, count: r.count })),
          detailsDropped: p.detailsDropped,
        })),
      }));
  }
}
