/**
 * @module The message body on its way to the next hop, in one Transform: every chunk is counted
 * and inspected before it may go on, then encoded for the wire exactly as nodemailer's DataStream
 * does it (bare CR and bare LF become CRLF, leading dots are stuffed, RFC 5321 §4.5.2), with the
 * Received prefix before it and the terminating `.` CRLF after it (RFC 5321 §4.1.1.4).
 *
 * Cost per chunk, not per byte: CR and LF are found with `Buffer.indexOf` (memchr), a chunk that
 * needs nothing inserted is passed on as it is (zero copy), and one that does is copied once into
 * a buffer of its exact size. One output chunk is held back so the prefix can ride in the first
 * write and the terminator in the last: a small message costs one socket write (one TLS record,
 * one syscall) instead of three.
 */
import { Transform, type TransformCallback } from 'node:stream';
import type { Reply } from '../smtp/reply.js';

/** What the body must satisfy on its way through; checked before a chunk is forwarded. */
export interface BodyLimits {
  readonly maxBytes: number;
  /** Returns the refusal for a chunk that must not reach the next hop, else undefined. */
  readonly inspect?: (chunk: Buffer) => Reply | undefined;
}

/** Why the encoder stopped: the chunk that broke the rule, and everything after, was dropped. */
export type BodyRefusal =
  | { readonly kind: 'too-big'; readonly bytes: number }
  | { readonly kind: 'bad-content'; readonly reply: Reply; readonly bytes: number };

const CR = 0x0d;
const LF = 0x0a;
const DOT = 0x2e;
/** Before the first byte of the stream: a dot there starts a line (nodemailer's `false`). */
const START = -1;

// What gets inserted, as in nodemailer's DataStream (shared: only ever copied).
const INSERT_LF = Buffer.from('\n');
/** A bare CR becomes CRLF; a dot right after it starts a line, so it is stuffed too (smuggling). */
const INSERT_LF_DOT = Buffer.from('\n.');
const INSERT_CR = Buffer.from('\r');
const INSERT_DOT = Buffer.from('.');

/**
 * The end of data after the last byte sent (DataStream's `_flush`): CRLF `.` CRLF, completing a
 * bare CR or reusing a final LF as the CRLF that must precede the dot (RFC 5321 §4.1.1.4).
 */
const END_AFTER_LF = Buffer.from('.\r\n');
const END_AFTER_CR = Buffer.from('\n.\r\n');
const END_OTHERWISE = Buffer.from('\r\n.\r\n');

/**
 * Held-back chunks are merged with the prefix or terminator only while the whole fits one TLS
 * record (16 KiB plaintext, RFC 8446 §5.1): past that the merge saves no record, only a syscall,
 * and would cost a copy of a large chunk.
 */
const MERGE_LIMIT = 16_384;

/**
 * Wire encoding with memory of the previous byte across chunks. `encode` returns the chunk itself
 * when nothing is inserted, else one new buffer; the result equals DataStream's byte for byte.
 */
export class DotStuffer {
  #last = START;
  readonly #at: number[] = [];
  readonly #insert: Buffer[] = [];

  /** The last byte seen, for the terminator; START when nothing was encoded yet. */
  get last(): number {
    return this.#last;
  }

  encode(chunk: Buffer): Buffer {
    const len = chunk.length;
    if (len === 0) return chunk;
    const at = this.#at;
    const insert = this.#insert;
    at.length = 0;
    insert.length = 0;
    const first = chunk[0] as number;
    const last = this.#last;
    // The first byte against the previous chunk's last; an LF here is left to the loop below.
    if (last === CR && first !== LF) {
      at.push(0);
      insert.push(first === DOT ? INSERT_LF_DOT : INSERT_LF);
    } else if (first === DOT && (last === LF || last === START)) {
      at.push(0);
      insert.push(INSERT_DOT);
    }
    // Insertions only ever happen right after a CR, at an LF, or right after an LF; visiting the
    // CRs and LFs in order yields them in order, at most one per position.
    let cr = chunk.indexOf(CR);
    let lf = chunk.indexOf(LF);
    while (cr !== -1 || lf !== -1) {
      if (lf === -1 || (cr !== -1 && cr < lf)) {
        const next = cr + 1;
        // A CR followed by anything but LF is bare; an LF after it is the loop's next stop.
        if (next < len) {
          const b = chunk[next] as number;
          if (b !== LF) {
            at.push(next);
            insert.push(b === DOT ? INSERT_LF_DOT : INSERT_LF);
          }
        }
        cr = chunk.indexOf(CR, next);
      } else {
        const prev = lf > 0 ? (chunk[lf - 1] as number) : last;
        if (prev !== CR) {
          at.push(lf);
          insert.push(INSERT_CR);
        }
        const next = lf + 1;
        if (next < len && chunk[next] === DOT) {
          at.push(next);
          insert.push(INSERT_DOT);
        }
        lf = chunk.indexOf(LF, next);
      }
    }
    this.#last = chunk[len - 1] as number;
    if (at.length === 0) return chunk;
    let size = len;
    for (const b of insert) size += b.length;
    const out = Buffer.allocUnsafe(size);
    let from = 0;
    let to = 0;
    for (let k = 0; k < at.length; k++) {
      const pos = at[k] as number;
      const add = insert[k] as Buffer;
      to += chunk.copy(out, to, from, pos);
      to += add.copy(out, to);
      from = pos;
    }
    chunk.copy(out, to, from);
    return out;
  }

  /** The bytes that end the data after everything encoded so far. */
  terminator(): Buffer {
    if (this.#last === LF) return END_AFTER_LF;
    if (this.#last === CR) return END_AFTER_CR;
    return END_OTHERWISE;
  }
}

/**
 * The body Transform for one DATA transfer. A chunk over `maxBytes` or refused by `inspect` is
 * dropped, `onRefused` is told once, and nothing is emitted from then on: not the held-back chunk
 * (the connection is about to be destroyed) and never the terminator, so a refused message can
 * never be completed at the hop.
 */
export class BodyEncoder extends Transform {
  readonly #stuffer = new DotStuffer();
  readonly #limits: BodyLimits;
  readonly #onRefused: (refusal: BodyRefusal) => void;
  /** Output produced but not yet pushed: the prefix, then the latest encoded chunk. */
  #held: Buffer | undefined;
  /** Whether `#held` is still only the prefix (no body byte merged in yet). */
  #heldIsPrefix: boolean;
  #bytes = 0;
  #refused = false;
  /**
   * Held body bytes go out at the latest when this turn of the event loop is over: the merge
   * saves a write when the end follows at once, never delays bytes behind a client that pauses.
   */
  #release: NodeJS.Immediate | undefined;

  constructor(prefix: string, limits: BodyLimits, onRefused: (refusal: BodyRefusal) => void) {
    super();
    this.#limits = limits;
    this.#onRefused = onRefused;
    // The prefix goes through the same encoding as the body (DataStream got it as a write).
    const encoded = this.#stuffer.encode(Buffer.from(prefix));
    this.#held = encoded.length > 0 ? encoded : undefined;
    this.#heldIsPrefix = this.#held !== undefined;
  }

  /** Body bytes received from the source so far (the prefix not included). */
  get bytes(): number {
    return this.#bytes;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    if (this.#refused) {
      done();
      return;
    }
    this.#bytes += chunk.length;
    const bytes = this.#bytes;
    if (bytes > this.#limits.maxBytes) {
      this.#refuse({ kind: 'too-big', bytes });
    } else {
      const reply = this.#limits.inspect?.(chunk);
      if (reply) this.#refuse({ kind: 'bad-content', reply, bytes });
      else this.#hold(this.#stuffer.encode(chunk));
    }
    done();
  }

  override _flush(done: TransformCallback): void {
    this.#cancelRelease();
    if (!this.#refused) {
      const end = this.#stuffer.terminator();
      const held = this.#held;
      this.#held = undefined;
      if (held === undefined) this.push(end);
      else if (held.length + end.length <= MERGE_LIMIT) this.push(Buffer.concat([held, end]));
      else {
        this.push(held);
        this.push(end);
      }
    }
    done();
  }

  #hold(out: Buffer): void {
    if (out.length === 0) return;
    const held = this.#held;
    if (held !== undefined && this.#heldIsPrefix && held.length + out.length <= MERGE_LIMIT) {
      this.#held = Buffer.concat([held, out]);
    } else {
      if (held !== undefined) this.push(held);
      this.#held = out;
    }
    this.#heldIsPrefix = false;
    this.#release ??= setImmediate(() => {
      this.#release = undefined;
      const pending = this.#held;
      if (pending === undefined || this.#heldIsPrefix || this.#refused || this.destroyed) return;
      this.#held = undefined;
      this.push(pending);
    });
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#cancelRelease();
    callback(error);
  }

  #cancelRelease(): void {
    if (this.#release !== undefined) clearImmediate(this.#release);
    this.#release = undefined;
  }

  #refuse(refusal: BodyRefusal): void {
    this.#cancelRelease();
    this.#refused = true;
    this.#held = undefined;
    this.#onRefused(refusal);
  }
}
