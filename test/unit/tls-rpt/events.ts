// Owns the sessions the TLS-RPT tests record: one STS domain with failures, one without a policy.
import type { TlsRptEvent, TlsRptPolicy } from '../../../src/tls-rpt/model.js';

export const STS_POLICY: TlsRptPolicy = {
  type: 'sts',
  string: ['version: STSv1', 'mode: enforce', 'mx: *.mail.a.test', 'max_age: 86400'],
  mxHost: ['*.mail.a.test'],
};

export const ok = (policyDomain: string, policy: TlsRptPolicy = STS_POLICY): TlsRptEvent => ({
  policyDomain,
  policy,
  result: { ok: true },
});

export const expired: TlsRptEvent = {
  policyDomain: 'A.test.',
  policy: STS_POLICY,
  result: {
    ok: false,
    resultType: 'certificate-expired',
    sendingMtaIp: '192.0.2.1',
    receivingMxHostname: 'mx1.mail.a.test',
    receivingIp: '203.0.113.5',
    failureReasonCode: 'CERT_HAS_EXPIRED',
  },
};

export const noStarttls: TlsRptEvent = {
  policyDomain: 'a.test',
  policy: STS_POLICY,
  result: {
    ok: false,
    resultType: 'starttls-not-supported',
    sendingMtaIp: '192.0.2.1',
    receivingMxHostname: 'mx2.mail.a.test',
    receivingIp: '203.0.113.6',
  },
};

/** 3 successes and 3 failures (2 alike) for a.test; 1 success for b.test, which has no policy. */
export const DAY_EVENTS: readonly TlsRptEvent[] = [
  ok('a.test'),
  expired,
  ok('a.test'),
  noStarttls,
  expired,
  ok('a.test'),
  ok('b.test', { type: 'no-policy-found' }),
];
