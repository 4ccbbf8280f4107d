/**
 * @module Reads the header section as it streams by: counts `Received:` fields for loop
 * detection (RFC 5321 §6.3) and measures the section, without buffering the message.
 */

export class HeaderScanner {
  #inHeader = true;
  #atLineStart = true;
  /** The start of the current line, kept only while it could still be `Received:`. */
  #line = '';
  #bytes = 0;
  #received = 0;

  get received(): number {
    return this.#received;
  }

  /** Bytes of the header section seen so far (the whole section once it ended). */
  get headerBytes(): number {
    return this.#bytes;
  }

  get inHeader(): boolean {
    return this.#inHeader;
  }

  push(chunk: Buffer): void {
    for (let i = 0; i < chunk.length && this.#inHeader; i++) {
      const b = chunk[i] ?? 0;
      this.#bytes += 1;
      if (b === 0x0a) {
        // An empty line (CRLF alone, or a bare LF) ends the header section (RFC 5322 §2.1).
        if (this.#atLineStart || this.#line === '\r') this.#inHeader = false;
        this.#atLineStart = true;
        this.#line = '';
        continue;
      }
      if (this.#line.length < 9) {
        this.#line += String.fromCharCode(b);
        if (this.#line.length === 9 && this.#line.toLowerCase() === 'received:')
          this.#received += 1;
      }
      this.#atLineStart = false;
    }
  }
}
