/**
 * @module Bounds the length of one text line of message content, across chunk boundaries. RFC
 * 5321 §4.5.3.1.6 sets 1000 octets (CRLF included) but lets servers accept more, so longer lines
 * pass and the next hop decides; only a pathological line is refused, so no hop is asked to
 * buffer an unbounded line (catalogue LM-02).
 */
const CR = 0x0d;
const LF = 0x0a;

/** The longest line text (CRLF excluded) passed on: 64 KiB, far past any real mail line. */
export const MAX_LINE_OCTETS = 65_536;

export class LineLengthScanner {
  /** Octets of the current line so far (since the last CR or LF). */
  #current = 0;

  constructor(private readonly maxOctets: number = MAX_LINE_OCTETS) {}

  /**
   * False as soon as one line holds more than `maxOctets` octets before its line end. A bare CR
   * or LF counts as a line end too: the data stream turns it into CRLF on the way out.
   */
  push(chunk: Buffer): boolean {
    const len = chunk.length;
    // No line can cross the bound within this chunk: only the tail after the last line end counts.
    if (this.#current + len <= this.maxOctets) {
      const end = Math.max(chunk.lastIndexOf(CR), chunk.lastIndexOf(LF));
      this.#current = end === -1 ? this.#current + len : len - 1 - end;
      return true;
    }
    // Walk the line ends (memchr, not a byte loop), measuring the text between them.
    let current = this.#current;
    let start = 0;
    let cr = chunk.indexOf(CR);
    let lf = chunk.indexOf(LF);
    while (cr !== -1 || lf !== -1) {
      const end = lf === -1 || (cr !== -1 && cr < lf) ? cr : lf;
      if (current + end - start > this.maxOctets) return false;
      current = 0;
      start = end + 1;
      if (end === cr) cr = chunk.indexOf(CR, start);
      else lf = chunk.indexOf(LF, start);
    }
    current += len - start;
    if (current > this.maxOctets) return false;
    this.#current = current;
    return true;
  }
}
