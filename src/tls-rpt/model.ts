/**
 * @module The TLS-RPT vocabulary (RFC 8460 §4): policy types, result types, the session event the
 * outbound side records, and the per-day aggregate a report is built from.
 */

/** RFC 8460 §4.4 `policy-type`. The relay applies `sts` or none; `tlsa` (DANE) is vocabulary only. */
export const POLICY_TYPES = ['sts', 'tlsa', 'no-policy-found'] as const;
export type TlsRptPolicyType = (typeof POLICY_TYPES)[number];

/**
 * RFC 8460 §4.3 result types (the IANA "STARTTLS Validation Result Types" registry):
 * negotiation failures (§4.3.1), DANE (§4.3.2.1) and MTA-STS (§4.3.2.2) policy failures.
 * `validation-failure` is also the catch-all for a failure that fits no other type (§4.3.3).
 */
export const RESULT_TYPES = [
  'starttls-not-supported',
  'certificate-host-mismatch',
  'certificate-expired',
  'certificate-not-trusted',
  'validation-failure',
  'tlsa-invalid',
  'dnssec-invalid',
  'dane-required',
  'sts-policy-fetch-error',
  'sts-policy-invalid',
  'sts-webpki-invalid',
] as const;
export type TlsRptResultType = (typeof RESULT_TYPES)[number];

export function isResultType(value: string): value is TlsRptResultType {
  return (RESULT_TYPES as readonly string[]).includes(value);
}

/** The policy applied to a session (RFC 8460 §4.4 `policy`). */
export interface TlsRptPolicy {
  readonly type: 'sts' | 'no-policy-found';
  /** For `sts`: the policy's lines (`policy-string`). */
  readonly string?: readonly string[];
  /** For `sts`: the policy's `mx` patterns (`mx-host`). */
  readonly mxHost?: readonly string[];
}

export interface TlsRptFailure {
  readonly ok: false;
  readonly resultType: TlsRptResultType;
  readonly sendingMtaIp?: string;
  readonly receivingMxHostname?: string;
  readonly receivingIp?: string;
  /** Free text naming the cause, e.g. OpenSSL's `CERT_HAS_EXPIRED` (§4.4 `failure-reason-code`). */
  readonly failureReasonCode?: string;
}

/**
 * One outbound session to one MX of `policyDomain`, as TLS-RPT counts it (RFC 8460 §4.2): a
 * session that negotiated TLS as its policy required, or one that failed with a result type.
 * Transient failures (a connection refused before any TLS) are not reported (§4.3.4).
 */
export interface TlsRptEvent {
  /** The recipient domain. */
  readonly policyDomain: string;
  readonly policy: TlsRptPolicy;
  readonly result: { readonly ok: true } | TlsRptFailure;
}

/** One `failure-details` row: sessions alike in all these fields, counted. */
export interface FailureDetail {
  readonly resultType: TlsRptResultType;
  readonly sendingMtaIp?: string;
  readonly receivingMxHostname?: string;
  readonly receivingIp?: string;
  readonly failureReasonCode?: string;
  readonly count: number;
}

/** One policy of one domain over one day: the summary and the failure details. */
export interface PolicyAggregate {
  readonly policy: TlsRptPolicy;
  readonly successful: number;
  readonly failed: number;
  /** Rows in first-seen order, at most the store's cap. */
  readonly failureDetails: readonly FailureDetail[];
  /** Failed sessions counted in `failed` whose row did not fit under the cap. */
  readonly detailsDropped: number;
}

/** One policy domain over one day: one report (RFC 8460 §4.1). Several policies when it changed. */
export interface DomainAggregate {
  readonly policyDomain: string;
  readonly policies: readonly PolicyAggregate[];
}
