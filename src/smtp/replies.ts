/** @module Every reply the relay itself sends, in one catalogue: `{ code, lines }` via reply(). */
import { reply, type Reply } from './reply.js';

export const replies = {
  /** RFC 5321 §3.6.2: relaying is refused for clients that are not authorized. */
  relayDenied: reply(554, '5.7.1', 'Relay access denied'),
  /** RFC 7505 §4.2: a null MX means the domain accepts no mail. */
  nullMx: reply(556, '5.1.10', 'Recipient domain does not accept mail (null MX)'),
  /** The domain does not exist in DNS: permanent, like Postfix's "Host not found". */
  domainNotFound: reply(550, '5.1.2', 'Recipient domain not found'),
  /** DNS gave a temporary failure: the client keeps the message and retries. */
  dnsTempFail: reply(451, '4.4.3', 'Temporary DNS failure resolving the next hop, try again later'),
  /** RFC 5321 §3.3: one transaction goes to one next hop; the client retries the rest. */
  otherNextHop: reply(
    452,
    '4.5.3',
    'Recipient uses another next hop, send it in a new transaction',
  ),
  nextHopUnavailable: reply(451, '4.4.1', 'Next hop unavailable, try again later'),
  /** RFC 3463 X.7.5: no next hop met the TLS policy (route level, MTA-STS, TLS history). */
  tlsPolicyUnmet: reply(451, '4.7.5', 'TLS policy not met by any next hop, try again later'),
  /** RFC 8689 §5: REQUIRETLS could not be honoured on the way to this recipient. */
  requireTlsUnsupported: reply(550, '5.7.30', 'REQUIRETLS support required'),
  nextHopLost: reply(451, '4.4.2', 'Connection to the next hop lost, try again later'),
  /** RFC 3463 X.4.5 (mail system congestion): outbound.maxConnectionsPerHop reached, wait over. */
  nextHopCongested: reply(451, '4.4.5', 'Too many connections to the next hop, try again later'),
  nextHopGarbled: reply(451, '4.4.2', 'Next hop sent an invalid reply, try again later'),
  /** RFC 1870 §6.3: the message is larger than the relay's fixed maximum. */
  messageTooBig: reply(552, '5.3.4', 'Message size exceeds fixed maximum message size'),
  /** RFC 6531 §3.2: a UTF-8 envelope needs SMTPUTF8 at the next hop. */
  utf8NotSupported: reply(553, '5.6.7', 'Next hop does not support SMTPUTF8 for this address'),
  /** RFC 6531 §3.4: a non-ASCII local part in a transaction that did not ask for SMTPUTF8. */
  utf8WithoutSmtpUtf8: reply(553, '5.6.7', 'Non-ASCII address requires the SMTPUTF8 parameter'),
  /** RFC 6152 §3: 8-bit content needs 8BITMIME at the next hop. */
  eightBitNotSupported: reply(554, '5.6.3', 'Next hop does not support 8BITMIME'),
  /** RFC 5321 §4.5.3.1.10: too many recipients is 452, and the client sends the rest later. */
  tooManyRecipients: reply(452, '4.5.3', 'Too many recipients'),
  /** RFC 5321 §2.3.8: CR and LF only as CRLF; the smuggling guard refuses anything else. */
  bareLineEnding: reply(550, '5.5.2', 'Message contains a bare CR, a bare LF or a NUL'),
  /** Catalogue SM-03 (RFC 5321 §4.1.1.4): a NUL is never relayed, not even under `normalize`. */
  nulInContent: reply(554, '5.6.0', 'Message contains a NUL character'),
  /** RFC 5321 §4.5.3.1.6, §4.5.3.1.10: long lines pass, a pathological one does not (LM-02). */
  lineTooLong: reply(554, '5.6.0', 'Message contains a line longer than 65536 octets'),
  /** RFC 5321 §6.3: a message with this many Received fields is looping. */
  tooManyHops: reply(554, '5.4.6', 'Too many hops: mail loop detected'),
  headerTooBig: reply(552, '5.3.4', 'Message header section exceeds the fixed maximum size'),
  /** RFC 3207 §4: a listener that requires TLS refuses MAIL in clear (the session stays open). */
  startTlsFirst: reply(530, '5.7.0', 'Must issue a STARTTLS command first'),
  /** RFC 4954 §6: submission needs an authenticated client. */
  authRequired: reply(530, '5.7.0', 'Authentication required'),
  /** RFC 4954 §6: the same reply for an unknown user and a wrong password. */
  authInvalid: reply(535, '5.7.8', 'Authentication credentials invalid'),
  /** RFC 4954 §4: AUTH is not permitted during a mail transaction. */
  authInTransaction: reply(503, '5.5.1', 'MAIL transaction in progress'),
  /** RFC 4954 §6: 454 4.7.0, temporary authentication failure. */
  authThrottled: reply(454, '4.7.0', 'Too many authentication failures, try again later'),
  authThrottledClose: reply(421, '4.7.0', 'Too many authentication failures, closing connection'),
  authUnavailable: reply(454, '4.7.0', 'Temporary authentication failure'),
  /** RFC 5321 §3.1: refused at connect, try again later. */
  tooManySessions: reply(421, '4.7.0', 'Too many sessions, try again later'),
  tooManySessionsFromAddress: reply(
    421,
    '4.7.0',
    'Too many sessions from your address, try again later',
  ),
  shuttingDown: reply(421, '4.3.2', 'Relay shutting down, try again later'),
  internalError: reply(451, '4.3.0', 'Local error in processing, try again later'),
  badAddress: reply(501, '5.1.3', 'Bad recipient address syntax'),
  /** RFC 5321 §4.5.3.1.4 allows longer lines; past limits.maxCommandLength (Postfix wording). */
  commandTooLong: reply(500, '5.5.2', 'Error: command too long'),
  /** RFC 5321 §2.3.8: CR only as part of CRLF, never inside a command. */
  crInCommand: reply(501, '5.5.4', 'Error: bare CR inside a command line'),
  unknownCommand: reply(500, '5.5.2', 'Error: command not recognized'),
  /** Postfix smtpd_hard_error_limit. */
  tooManyErrors: reply(421, '4.7.0', 'Error: too many errors'),
  /** Postfix smtpd_junk_command_limit. */
  tooManyJunkCommands: reply(421, '4.7.0', 'Error: too many commands without mail'),
  /** RFC 2920 §3.1: input before the reply to DATA, or after a rejected DATA (Postfix wording). */
  unauthorizedPipelining: reply(554, '5.5.0', 'Error: SMTP protocol synchronization'),
  /** RFC 5321 §4.5.3.2.7: the client stayed silent for limits.idleTimeoutSeconds. */
  idleTimeout: reply(421, '4.4.2', 'Error: timeout exceeded'),
  commandTimeout: reply(421, '4.4.2', 'Error: command not completed in time'),
  dataTooSlow: reply(421, '4.4.2', 'Error: message data arriving too slowly'),
  sessionTooLong: reply(421, '4.4.2', 'Error: session lasted too long'),
} as const;

/** Postfix anvil's wording: refused at connect, past limits.connectionRatePerMinute. */
export function tooManyConnectionsFrom(address: string): Reply {
  return reply(421, '4.7.0', `Error: too many connections from ${address}`);
}

/** RFC 3207 §4: 454 to STARTTLS, past limits.tlsHandshakeRatePerMinute. */
export function tooManyTlsSessionsFrom(address: string): Reply {
  return reply(454, '4.7.0', `Error: too many new TLS sessions from ${address}`);
}
