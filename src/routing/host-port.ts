/** @module `host[:port]` parsing for next hops, with IPv6 literals in brackets. */
import { isIP } from 'node:net';

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

const SMTP_PORT = 25;

/** `mail.internal`, `mail.internal:2525`, `10.0.0.5:25`, `[2001:db8::1]:25`; undefined if malformed. */
export function parseHostPort(text: string, defaultPort = SMTP_PORT): HostPort | undefined {
  const bracketed = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(text);
  const plain = /^([A-Za-z0-9.-]+)(?::(\d{1,5}))?$/.exec(text);
  const m = bracketed ?? plain;
  if (!m?.[1]) return undefined;
  const host = m[1];
  if (bracketed && isIP(host) === 0) return undefined;
  if (!bracketed && isIP(host) === 0 && !/^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(host)) {
    return undefined;
  }
  const port = m[2] === undefined ? defaultPort : Number(m[2]);
  if (port < 1 || port > 65535) return undefined;
  return { host, port };
}
