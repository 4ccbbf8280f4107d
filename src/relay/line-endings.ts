/**
 * @module The smuggling guard: finds bare CR, bare LF and NUL in message content, across chunk
 * boundaries. RFC 5321 §2.3.8 allows CR and LF only together as CRLF; servers that accept the
 * others are what SMTP smuggling exploits (CVE-2023-51764, -51765, -51766).
 */
const CR = 0x0d;
const LF = 0x0a;

/** Whether the chunk holds a NUL octet (RFC 5322 §3.5: `text` excludes %d0; §4.1 obsolete). */
export function containsNul(chunk: Buffer): boolean {
  return chunk.indexOf(0) !== -1;
}

export class LineEndingScanner {
  /** The chunk before ended in CR: the next byte must be LF. */
  #pendingCr = false;

  /** False as soon as the content holds a bare CR, a bare LF or a NUL. */
  push(chunk: Buffer): boolean {
    if (chunk.length === 0) return true;
    if (this.#pendingCr && chunk[0] !== LF) return false;
    if (containsNul(chunk)) return false;
    for (let i = chunk.indexOf(LF); i !== -1; i = chunk.indexOf(LF, i + 1)) {
      const before = i > 0 ? chunk[i - 1] : this.#pendingCr ? CR : undefined;
      if (before !== CR) return false;
    }
    for (let i = chunk.indexOf(CR); i !== -1; i = chunk.indexOf(CR, i + 1)) {
      if (i + 1 < chunk.length && chunk[i + 1] !== LF) return false;
    }
    this.#pendingCr = chunk[chunk.length - 1] === CR;
    return true;
  }
}
