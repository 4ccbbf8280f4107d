/**
 * @module What message content must satisfy before a chunk goes on to the next hop: no bare CR,
 * LF or NUL (when the client's policy rejects them), a bounded header section, and fewer
 * `Received:` fields than the hop limit (RFC 5321 §6.3 loop detection).
 */
import { replies } from '../smtp/replies.js';
import type { Reply } from '../smtp/reply.js';
import { HeaderScanner } from './header-scan.js';
import { LineEndingScanner } from './line-endings.js';

export interface ContentLimits {
  /** `Received:` fields at or above which the message is looping. */
  readonly maxHops: number;
  readonly maxHeaderBytes: number;
}

/** A fresh check for one message: returns the refusal for the first chunk that breaks a rule. */
export function contentCheck(
  limits: ContentLimits,
  rejectBareLineEndings: boolean,
): (chunk: Buffer) => Reply | undefined {
  const lines = rejectBareLineEndings ? new LineEndingScanner() : undefined;
  const header = new HeaderScanner();
  return (chunk) => {
    if (lines && !lines.push(chunk)) return replies.bareLineEnding;
    if (!header.inHeader) return undefined;
    header.push(chunk);
    if (header.received >= limits.maxHops) return replies.tooManyHops;
    if (header.headerBytes > limits.maxHeaderBytes) return replies.headerTooBig;
    return undefined;
  };
}
