/**
 * @module The probe's argument: a mail domain (its MX hosts are probed) or one host, written
 * `host:port`, an address, or `[IPv6]:port`.
 */
import { isIP } from 'node:net';
import { domainToASCII } from 'node:url';

export type Target =
  | { readonly kind: 'domain'; readonly domain: string }
  /** port null: the SMTP port (25). */
  | { readonly kind: 'host'; readonly host: string; readonly port: number | null };

const LABEL = '[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?';
const HOST_NAME = new RegExp(`^${LABEL}(\\.${LABEL})*$`);

/** A-labels (RFC 5890 §2.3.2.1), lower case, without a trailing dot; undefined if not a name. */
function hostName(text: string): string | undefined {
  const ascii = domainToASCII(text.replace(/\.$/, '')).toLowerCase();
  return ascii.length > 0 && ascii.length <= 253 && HOST_NAME.test(ascii) ? ascii : undefined;
}

function port(text: string | undefined): number | null | undefined {
  if (text === undefined) return null;
  const n = Number(text);
  return /^\d{1,5}$/.test(text) && n >= 1 && n <= 65535 ? n : undefined;
}

/** undefined when `text` is neither a domain nor a host[:port]. */
export function parseTarget(text: string): Target | undefined {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  if (bracketed?.[1]) {
    const p = port(bracketed[2]);
    return isIP(bracketed[1]) === 6 && p !== undefined
      ? { kind: 'host', host: bracketed[1], port: p }
      : undefined;
  }
  if (isIP(text) !== 0) return { kind: 'host', host: text, port: null };
  const withPort = /^([^:]+):(\d+)$/.exec(text);
  if (withPort?.[1]) {
    const p = port(withPort[2]);
    const host = isIP(withPort[1]) === 4 ? withPort[1] : hostName(withPort[1]);
    return host !== undefined && p !== undefined ? { kind: 'host', host, port: p } : undefined;
  }
  const domain = hostName(text);
  return domain === undefined ? undefined : { kind: 'domain', domain };
}
