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
    let current = this.#current;
    for (const b of chunk) {
      if (b === LF || b === CR) current = 0;
      else if (++current > this.maxOctets) return false;
    }
    this.#current = current;
    return true;
  }
}
