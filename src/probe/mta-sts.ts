/**
 * @module The domain's MTA-STS as the probe reports it: its TXT record, then its policy fetched
 * over HTTPS (RFC 8461 §3.3, by src/mta-sts/fetch.ts) and checked against the MX hosts (§4.1).
 */
import {
  fetchPolicyText,
  MAX_POLICY_BYTES,
  policyUrl,
  type PolicyFetchDeps,
} from '../mta-sts/fetch.js';
import { mxMatches, parsePolicy } from '../mta-sts/policy.js';
import type { AddressResolver } from '../routing/addresses.js';
import { lookupMtaStsRecord, type TxtResolver } from './dns-records.js';
import type { MtaStsPolicyReport, MtaStsReport } from './model.js';

export { MAX_POLICY_BYTES };

export interface MtaStsDeps extends PolicyFetchDeps {
  readonly resolver: TxtResolver & AddressResolver;
}

/** The policy at https://mta-sts.<domain>/.well-known/mta-sts.txt, or why there is none. */
export async function fetchPolicy(domain: string, deps: MtaStsDeps): Promise<MtaStsPolicyReport> {
  const url = policyUrl(domain);
  const fetched = await fetchPolicyText(domain, deps);
  if (!fetched.ok) {
    return {
      url,
      status: 'error',
      error: fetched.error,
      version: null,
      mode: null,
      maxAge: null,
      mx: [],
    };
  }
  const policy = parsePolicy(fetched.text);
  return {
    url,
    status: policy.errors.length === 0 ? 'ok' : 'invalid',
    error: policy.errors.length === 0 ? null : policy.errors.join('; '),
    version: policy.version,
    mode: policy.mode,
    maxAge: policy.maxAge,
    mx: policy.mx,
  };
}

/** The record, the policy when the record is present, and the MX hosts the policy leaves out. */
export async function probeMtaSts(
  domain: string,
  mxHosts: readonly string[],
  deps: MtaStsDeps,
): Promise<MtaStsReport> {
  const record = await lookupMtaStsRecord(deps.resolver, domain);
  if (record.status !== 'present') return { record, policy: null, unmatchedMx: [] };
  const policy = await fetchPolicy(domain, deps);
  const unmatchedMx =
    policy.status === 'ok' && policy.mode !== 'none'
      ? mxHosts.filter((h) => !policy.mx.some((p) => mxMatches(p, h)))
      : [];
  return { record, policy, unmatchedMx };
}
