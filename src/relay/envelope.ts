/**
 * @module The envelope as the next hop sees it: addresses with A-label domains, and the MAIL
 * parameters the hop supports (SIZE RFC 1870, BODY RFC 6152, SMTPUTF8 RFC 6531, REQUIRETLS
 * RFC 8689). Parameters the
 * hop did not advertise are never sent; unknown client parameters are not forwarded.
 */
import { asciiDomain } from '../routing/domain.js';
import { replies } from '../smtp/replies.js';
import type { Reply } from '../smtp/reply.js';

export type MailArgs = Readonly<Record<string, string | boolean>> | false | undefined;

// eslint-disable-next-line no-control-regex -- the ASCII range, NUL included
const NON_ASCII = /[^\x00-\x7f]/;

/** `<local@a-label>` for the wire, or `<>`; undefined when the domain cannot be encoded. */
export function wirePath(address: string): string | undefined {
  if (address === '') return '<>';
  const at = address.lastIndexOf('@');
  if (at < 0) return `<${address}>`;
  const domain = asciiDomain(address.slice(at + 1));
  return domain === undefined ? undefined : `<${address.slice(0, at)}@${domain}>`;
}

/** Whether the address still needs SMTPUTF8 once its domain is in A-labels (a UTF-8 local part). */
export function needsSmtpUtf8(address: string): boolean {
  const at = address.lastIndexOf('@');
  return NON_ASCII.test(at < 0 ? address : address.slice(0, at));
}

export type MailCommand =
  { readonly ok: true; readonly line: string } | { readonly ok: false; readonly reply: Reply };

/**
 * The MAIL FROM line for a hop with these EHLO `extensions`. `recipientsNeedUtf8` tells whether
 * any recipient of the transaction needs SMTPUTF8.
 */
export function mailCommand(
  from: string,
  args: MailArgs,
  extensions: ReadonlyMap<string, string>,
  needUtf8: boolean,
): MailCommand {
  const path = wirePath(from);
  if (path === undefined) return { ok: false, reply: replies.badAddress };
  const params: string[] = [];
  const a = args || {};
  const size = a.SIZE;
  if (typeof size === 'string' && /^\d+$/.test(size) && extensions.has('SIZE'))
    params.push(`SIZE=${size}`);
  const body = typeof a.BODY === 'string' ? a.BODY.toUpperCase() : undefined;
  if (body === '8BITMIME' && !extensions.has('8BITMIME'))
    return { ok: false, reply: replies.eightBitNotSupported };
  if (body !== undefined && extensions.has('8BITMIME')) params.push(`BODY=${body}`);
  const utf8 = needUtf8 || needsSmtpUtf8(from);
  if (utf8 && !extensions.has('SMTPUTF8')) return { ok: false, reply: replies.utf8NotSupported };
  if ((utf8 || a.SMTPUTF8 === true) && extensions.has('SMTPUTF8')) params.push('SMTPUTF8');
  // RFC 8689 §4.2.1: REQUIRETLS goes on only to a hop that offers it (the hop policy checked).
  if (a.REQUIRETLS === true) {
    if (!extensions.has('REQUIRETLS')) return { ok: false, reply: replies.requireTlsUnsupported };
    params.push('REQUIRETLS');
  }
  return { ok: true, line: `MAIL FROM:${path}${params.length > 0 ? ` ${params.join(' ')}` : ''}` };
}
