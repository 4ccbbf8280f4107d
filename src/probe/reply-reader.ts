/** @module SMTP replies read off a socket, multi-line ones whole (RFC 5321 §4.2), with bounds. */
import type { Socket } from 'node:net';

export interface SmtpReply {
  readonly code: number;
  /** Each line's text after the code and its separator. */
  readonly lines: readonly string[];
}

/** Far above RFC 5321 §4.5.3.1.5's 512 octets: a peer past this is not speaking SMTP. */
const MAX_LINE = 4096;
const MAX_LINES = 200;
const LINE = /^(\d{3})(?:([ -])(.*))?$/;

/** A reply line's code, separator and text; undefined when it is not one. */
function parseLine(line: string): { code: number; last: boolean; text: string } | undefined {
  const m = LINE.exec(line);
  if (!m?.[1]) return undefined;
  return { code: Number(m[1]), last: m[2] !== '-', text: m[3] ?? '' };
}

/** Reads replies from a plaintext socket until detached (before the TLS handshake). */
export class ReplyReader {
  private buffer = '';
  private readonly complete: SmtpReply[] = [];
  private partial: { code: number; lines: string[] } | undefined;
  private failure: Error | undefined;
  private waiter: { resolve(r: SmtpReply): void; reject(e: Error): void } | undefined;
  private readonly onData = (chunk: Buffer): void => this.feed(chunk.toString('latin1'));
  private readonly onEnd = (): void => this.fail(new Error('connection closed by the server'));
  private readonly onError = (err: Error): void => this.fail(err);

  constructor(private readonly socket: Socket) {
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('close', this.onEnd);
    socket.on('error', this.onError);
  }

  /** The next whole reply; rejects when the connection ends or the peer breaks the syntax. */
  next(): Promise<SmtpReply> {
    const ready = this.complete.shift();
    if (ready) return Promise.resolve(ready);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => (this.waiter = { resolve, reject }));
  }

  /**
   * Stops reading, so the socket can be handed to TLS. Returns whether the server sent bytes
   * beyond the last reply: after its `220` to STARTTLS there must be none, or plaintext would be
   * read as if it had come over TLS (RFC 3207 §4.2 resets the session at the handshake).
   */
  detach(): boolean {
    this.socket.off('data', this.onData);
    this.socket.off('end', this.onEnd);
    this.socket.off('close', this.onEnd);
    this.socket.off('error', this.onError);
    return this.buffer.length > 0 || this.partial !== undefined || this.complete.length > 0;
  }

  private feed(text: string): void {
    this.buffer += text;
    for (;;) {
      const end = this.buffer.indexOf('\n');
      if (end < 0) break;
      const line = this.buffer.slice(0, end).replace(/\r$/, '');
      this.buffer = this.buffer.slice(end + 1);
      this.line(line);
      if (this.failure) return;
    }
    if (this.buffer.length > MAX_LINE) this.fail(new Error('reply line too long'));
  }

  private line(line: string): void {
    const parsed = parseLine(line);
    if (!parsed) return this.fail(new Error(`not an SMTP reply: ${JSON.stringify(line)}`));
    const partial = this.partial ?? { code: parsed.code, lines: [] };
    if (partial.code !== parsed.code)
      return this.fail(new Error(`reply codes differ within one reply: ${JSON.stringify(line)}`));
    partial.lines.push(parsed.text);
    if (partial.lines.length > MAX_LINES) return this.fail(new Error('reply too long'));
    if (!parsed.last) {
      this.partial = partial;
      return;
    }
    this.partial = undefined;
    const waiter = this.waiter;
    this.waiter = undefined;
    if (waiter) waiter.resolve(partial);
    else this.complete.push(partial);
  }

  private fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.reject(err);
  }
}

/** `250 first line` for messages. */
export function replyText(reply: SmtpReply): string {
  return `${reply.code} ${reply.lines[0] ?? ''}`.trim();
}
