/**
 * @module One outbound session's TLS outcome in RFC 8460's terms (§4.3.2): the result type a
 * TLS-RPT report, the failure metric and the log line share.
 */
import type { TlsFacts } from './tls-facts.js';

/** RFC 8460 §4.3.2.1 (negotiation) and §4.3.2.2 (policy) result types that a sender can see. */
export type TlsResultType =
  | 'starttls-not-supported'
  | 'certificate-host-mismatch'
  | 'certificate-expired'
  | 'certificate-not-trusted'
  | 'validation-failure'
  | 'sts-policy-fetch-error'
  | 'sts-policy-invalid'
  | 'sts-webpki-invalid';

export const SESSION_RESULT_TYPES = [
  'starttls-not-supported',
  'certificate-host-mismatch',
  'certificate-expired',
  'certificate-not-trusted',
  'validation-failure',
] as const satisfies readonly TlsResultType[];

const HOST_MISMATCH = new Set(['ERR_TLS_CERT_ALTNAME_INVALID', 'HOSTNAME_MISMATCH']);
const EXPIRED = new Set(['CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID']);
const NOT_TRUSTED = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
]);

/** Why an encrypted session did not verify (OpenSSL's or Node's code in `verifyError`). */
export function certificateResult(tls: TlsFacts): TlsResultType {
  const code = tls.verifyError ?? '';
  if (HOST_MISMATCH.has(code)) return 'certificate-host-mismatch';
  if (EXPIRED.has(code)) return 'certificate-expired';
  if (NOT_TRUSTED.has(code)) return 'certificate-not-trusted';
  return 'validation-failure';
}
