/** @module What the MTA-STS source answers: a domain's policy, its absence, or why it failed. */

/** RFC 8460 §4.3.2.2: the TLS-RPT result types of a policy that could not be had. */
export type StsResultType = 'sts-policy-fetch-error' | 'sts-policy-invalid' | 'sts-webpki-invalid';

/** A valid policy (RFC 8461 §3.2), with the `_mta-sts` TXT id it was fetched under (§3.1). */
export interface StsPolicy {
  readonly mode: 'enforce' | 'testing' | 'none';
  /** Host names and `*.domain` patterns, lower case (§4.1). */
  readonly mx: readonly string[];
  readonly maxAgeSeconds: number;
  readonly id: string;
}

export type StsLookup =
  /** No `_mta-sts` TXT record (or not exactly one valid one) and no cached policy: no MTA-STS. */
  | { readonly kind: 'none' }
  | { readonly kind: 'policy'; readonly policy: StsPolicy; readonly from: 'cache' | 'fetch' }
  /**
   * The TXT record says MTA-STS, but no usable policy could be fetched and none is cached. RFC
   * 8461 §5.1: deliver as though the domain had no MTA-STS, and report the failure (RFC 8460).
   */
  | { readonly kind: 'failed'; readonly resultType: StsResultType; readonly error: string };
