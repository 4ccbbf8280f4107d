/**
 * @module The Received header we prepend (RFC 5321 §4.4, RFC 5322 §3.6.7), with the protocol
 * keyword of RFC 3848 and the inbound hop's TLS facts as RFC 8314 §4.3 asks.
 */
import { isIPv6 } from 'node:net';

export interface ReceivedFacts {
  readonly helo: string | undefined;
  readonly clientAddress: string;
  readonly clientHostname: string | undefined;
  readonly hostname: string;
  readonly ehlo: boolean;
  readonly authenticated: boolean;
  readonly tls: { readonly protocol: string | null; readonly cipher: string | null } | undefined;
  readonly id: string;
  readonly date: Date;
}

/** RFC 3848 §2: ESMTP, then S for TLS, A for AUTH; plain SMTP after HELO. */
export function protocolKeyword(f: Pick<ReceivedFacts, 'ehlo' | 'tls' | 'authenticated'>): string {
  if (!f.ehlo && !f.tls && !f.authenticated) return 'SMTP';
  return `ESMTP${f.tls ? 'S' : ''}${f.authenticated ? 'A' : ''}`;
}

/** Client-supplied text goes into a header: keep it printable and free of comment delimiters. */
function clean(text: string): string {
  return text.replace(/[^\x21-\x7e]|[()\\]/g, '?').slice(0, 255);
}

function addressLiteral(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped?.[1]) return `[${mapped[1]}]`;
  return isIPv6(address) ? `[IPv6:${address}]` : `[${address}]`;
}

/** RFC 5322 §3.3 date-time with a numeric zone. */
export function rfc5322Date(d: Date): string {
  return d.toUTCString().replace(/GMT$/, '+0000');
}

/** The whole header field, folded, ending in CRLF. */
export function receivedHeader(f: ReceivedFacts): string {
  const literal = addressLiteral(f.clientAddress);
  const tcpInfo =
    f.clientHostname && f.clientHostname !== literal
      ? `${clean(f.clientHostname)} ${literal}`
      : literal;
  const from = `from ${f.helo ? clean(f.helo) : 'unknown'} (${tcpInfo})`;
  const by = `by ${f.hostname} (starttls-relay) with ${protocolKeyword(f)} id ${f.id}`;
  const tls = f.tls
    ? `\r\n\t(version=${f.tls.protocol ?? 'unknown'}, cipher=${f.tls.cipher ?? 'unknown'})`
    : '';
  return `Received: ${from}\r\n\t${by}${tls};\r\n\t${rfc5322Date(f.date)}\r\n`;
}
