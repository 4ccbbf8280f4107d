/** @module Domain names as the relay compares them: A-labels, lower case, with route patterns. */
import { domainToASCII } from 'node:url';

/**
 * The ASCII (A-label) form of a domain, lower-cased, without a trailing dot; undefined when it
 * cannot be encoded. smtp-server hands IDN domains over in Unicode (RFC 5890 §2.3.2.1).
 */
export function asciiDomain(domain: string): string | undefined {
  const trimmed = domain.replace(/\.$/, '');
  if (trimmed.startsWith('[') && trimmed.endsWith(']')) return trimmed.toLowerCase();
  const ascii = domainToASCII(trimmed);
  return ascii === '' ? undefined : ascii.toLowerCase();
}

/** `*` matches every domain, `*.example.org` its subdomains, anything else itself exactly. */
export function domainMatches(pattern: string, domain: string): boolean {
  if (pattern === '*') return true;
  const p = asciiDomain(pattern.startsWith('*.') ? pattern.slice(2) : pattern);
  if (p === undefined) return false;
  return pattern.startsWith('*.') ? domain.endsWith(`.${p}`) : domain === p;
}
