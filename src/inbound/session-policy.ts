/**
 * @module Pure per-listener session decisions: which commands a session may use (AUTH only after
 * TLS, RFC 4954 §4 and M3AAWG's third measure), and whether MAIL may start (RFC 3207 §4 TLS
 * required on submission listeners, RFC 6409 §4.3 authentication required there).
 */
import type { ListenerConfig } from '../config/schema.js';
import { needsSmtpUtf8 } from '../relay/envelope.js';
import { replies } from '../smtp/replies.js';
import { reply, type Reply } from '../smtp/reply.js';

/** smtp-server's sendmail jokes, never offered. */
const ALWAYS_DISABLED = ['WIZ', 'SHELL', 'KILL'] as const;

/**
 * The commands a session may not use. Before TLS, AUTH is neither advertised nor accepted on any
 * listener, so no password is ever read in clear; after TLS it is offered where configured.
 */
export function disabledCommands(
  listener: Pick<ListenerConfig, 'auth'>,
  secure: boolean,
): string[] {
  return listener.auth && secure ? [...ALWAYS_DISABLED] : [...ALWAYS_DISABLED, 'AUTH'];
}

/** Undefined when MAIL may proceed; else the reply refusing it (the session stays open). */
export function mayStartMail(
  listener: Pick<ListenerConfig, 'mode'>,
  session: { readonly secure: boolean; readonly authenticated: boolean },
): Reply | undefined {
  if (listener.mode === 'mta') return undefined;
  if (!session.secure) return replies.startTlsFirst;
  if (!session.authenticated) return replies.authRequired;
  return undefined;
}

/** MAIL parameters we advertise (RFC 1870 SIZE, RFC 6152 BODY, RFC 6531 SMTPUTF8); RCPT has none. */
const MAIL_PARAMETERS = new Set(['SIZE', 'BODY', 'SMTPUTF8']);

/**
 * RFC 5321 §4.1.1.11: a parameter that was not advertised is refused with 555, never silently
 * dropped (smtp-server accepts unknown ones without a word).
 */
export function refuseUnknownParameters(
  verb: 'MAIL' | 'RCPT',
  args: Readonly<Record<string, unknown>> | false | undefined,
  /** REQUIRETLS was advertised to this session (RFC 8689 §4.1: TLS sessions only). */
  requireTlsOffered = false,
): Reply | undefined {
  const allowed = (k: string): boolean =>
    MAIL_PARAMETERS.has(k) || (requireTlsOffered && k === 'REQUIRETLS');
  const unknown = Object.keys(args || {}).find((k) => verb === 'RCPT' || !allowed(k.toUpperCase()));
  return unknown === undefined
    ? undefined
    : reply(555, '5.5.4', `Unsupported ${verb} parameter ${unknown.toUpperCase().slice(0, 32)}`);
}

/**
 * RFC 6531 §3.4: a non-ASCII local part is allowed only in a transaction whose MAIL carried the
 * SMTPUTF8 parameter; otherwise 553 5.6.7 (RFC 6531 §3.7.2), never relayed as it is. A non-ASCII
 * domain alone is fine: it goes out in A-labels (RFC 5890), all ASCII.
 */
export function refuseUtf8WithoutSmtpUtf8(
  address: string,
  mailArgs: Readonly<Record<string, unknown>> | false | undefined,
): Reply | undefined {
  if (!needsSmtpUtf8(address)) return undefined;
  return mailArgs && mailArgs.SMTPUTF8 === true ? undefined : replies.utf8WithoutSmtpUtf8;
}
