/**
 * @module What message content must satisfy before a chunk goes on to the next hop: no bare CR,
 * LF or NUL (when the client's policy rejects them), never a NUL (also under `normalize`), no
 * pathological line, no 8-bit octet to a 7-bit hop, a bounded header section, and fewer `Received:` fields than the hop limit
 * (RFC 5321 §6.3 loop detection).
 */
import { isAscii } from 'node:buffer';
import { replies } from '../smtp/replies.js';
import type { Reply } from '../smtp/reply.js';
import { HeaderScanner } from './header-scan.js';
import { containsNul, LineEndingScanner } from './line-endings.js';
import { LineLengthScanner, MAX_LINE_OCTETS } from './line-length.js';

export interface ContentLimits {
  /** `Received:` fields at or above which the message is looping. */
  readonly maxHops: number;
  readonly maxHeaderBytes: number;
}

/**
 * A fresh check for one message: returns the refusal for the first chunk that breaks a rule. The
 * chunk that breaks it, and everything after, never reaches the next hop, which therefore never
 * gets the terminating dot; the client hears the refusal after its own end of data.
 */
export function contentCheck(
  limits: ContentLimits,
  rejectBareLineEndings: boolean,
  /** The next hop takes 8-bit content (it advertised 8BITMIME, RFC 6152). */
  eightBitAllowed = true,
): (chunk: Buffer) => Reply | undefined {
  const lines = rejectBareLineEndings ? new LineEndingScanner() : undefined;
  const lengths = new LineLengthScanner(MAX_LINE_OCTETS);
  const header = new HeaderScanner();
  return (chunk) => {
    if (lines) {
      if (!lines.push(chunk)) return replies.bareLineEnding;
    } else if (containsNul(chunk)) {
      // `normalize` repairs line endings only. A NUL is never relayed: a hop that strips it
      // would read CRLF NUL . CRLF as the end of data (catalogue SM-03; RFC 5321 §4.1.1.4).
      // The guard can refuse a chunk but not rewrite it, so the message is refused, not stripped.
      return replies.nulInContent;
    }
    // RFC 6152 §3: 8-bit octets to a hop without 8BITMIME are never sent silently; the relay
    // does not convert content (no MIME rewriting), so the message is refused (RFC 3463 X.6.3).
    if (!eightBitAllowed && hasEightBit(chunk)) return replies.eightBitNotSupported;
    // RFC 5321 §4.5.3.1.6: long lines pass (the hop decides); one past 64 KiB is refused (LM-02).
    if (!lengths.push(chunk)) return replies.lineTooLong;
    if (!header.inHeader) return undefined;
    header.push(chunk);
    if (header.received >= limits.maxHops) return replies.tooManyHops;
    if (header.headerBytes > limits.maxHeaderBytes) return replies.headerTooBig;
    return undefined;
  };
}

/** Any octet above 0x7f (native scan, not a byte loop). */
function hasEightBit(chunk: Buffer): boolean {
  return !isAscii(chunk);
}
