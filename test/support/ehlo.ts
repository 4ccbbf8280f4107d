/** @module The EHLO replies of a default test relay (startTestRelay, an `mta` listener), exactly. */

/** Before STARTTLS: STARTTLS offered, neither AUTH nor REQUIRETLS. */
export const EHLO_BEFORE_TLS = [
  '250-relay.test Nice to meet you, [127.0.0.1]',
  '250-PIPELINING',
  '250-8BITMIME',
  '250-SMTPUTF8',
  '250-STARTTLS',
  '250 SIZE 52428800',
] as const;

/** After STARTTLS: REQUIRETLS offered when every route can honour it (RFC 8689 §4.1). */
export const EHLO_AFTER_TLS = [
  '250-relay.test Nice to meet you, [127.0.0.1]',
  '250-PIPELINING',
  '250-8BITMIME',
  '250-SMTPUTF8',
  '250-REQUIRETLS',
  '250 SIZE 52428800',
] as const;
