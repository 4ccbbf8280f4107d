/**
 * @module Feeds smtp-server's parser one command line at a time, so that each command knows
 * whether more input was already waiting behind it (RFC 2920 §3.1 unauthorised pipelining),
 * and bounds a command line (RFC 5321 §4.5.3.1.4): the excess of an over-long line is dropped
 * as it arrives, and the parser sees a line one byte over the limit, which the command guard
 * answers with 500. Data mode passes through untouched.
 */
import type { ParserInternals } from './smtp-internals.js';

export interface LineEvents {
  /** The first byte of a command line arrived (the per-command deadline starts). */
  lineStarted(): void;
  /** The command line is complete (its LF arrived). */
  lineEnded(): void;
  /** Message bytes arrived in data mode. */
  dataBytes(count: number): void;
  /** Our side holds a data-mode chunk back (backpressure from the next hop)... */
  heldBack(): void;
  /** ...and has taken it now. */
  released(): void;
}

export interface LineFeeder {
  /** True while input beyond the command being dispatched is already here. */
  pendingInput(): boolean;
}

const LF = 0x0a;
const CR = 0x0d;
/** Commands dispatched synchronously before yielding, as smtp-server itself does. */
const MAX_SYNC_LINES = 100;

type Next = (err?: Error | null) => void;

/** What Writable passes for Buffer chunks (not a BufferEncoding, but what the parser expects). */
const BUFFER = 'buffer' as BufferEncoding;

/**
 * Wraps `parser._write`. `maxLength` excludes the CRLF; the parser's own limit (16 KiB, then 421)
 * is never reached because no more than `maxLength + 1` bytes of a line ever get to it.
 */
export function feedLineByLine(
  parser: ParserInternals,
  maxLength: number,
  socketBuffered: () => number,
  events: LineEvents,
): LineFeeder {
  const write = parser._write.bind(parser);
  let lineBytes = 0;
  let discarding = false;
  let topActive = false;
  let topLength = 0;
  let rest = 0;

  const commandMode = (chunk: Buffer, done: Next): void => {
    let offset = 0;
    let lines = 0;
    const step = (): void => {
      for (;;) {
        if (parser.isClosed) {
          rest = 0;
          done();
          return;
        }
        if (offset >= chunk.length) {
          rest = 0;
          done();
          return;
        }
        if (parser._dataMode) {
          const tail = chunk.subarray(offset);
          offset = chunk.length;
          rest = 0;
          events.dataBytes(tail.length);
          write(tail, BUFFER, done);
          return;
        }
        const lf = chunk.indexOf(LF, offset);
        const end = lf < 0 ? chunk.length : lf + 1;
        let piece = chunk.subarray(offset, end);
        offset = end;
        rest = chunk.length - offset;
        // Line bytes without the terminator: the LF and a CR just before it (or at a chunk end).
        const content = lf < 0 ? piece.length : piece.length - 1;
        const body = content > 0 && piece[content - 1] === CR ? content - 1 : content;
        if (lineBytes === 0 && !discarding && body > 0) events.lineStarted();
        if (discarding) {
          piece = lf < 0 ? Buffer.alloc(0) : Buffer.from('\n');
        } else if (lineBytes + body > maxLength) {
          // The last kept byte becomes X, so a CR there cannot shorten the line the parser sees.
          const keep = Buffer.concat([piece.subarray(0, maxLength - lineBytes), Buffer.from('X')]);
          piece = lf < 0 ? keep : Buffer.concat([keep, Buffer.from('\n')]);
          discarding = lf < 0;
        }
        lineBytes = lf < 0 ? lineBytes + body : 0;
        if (lf >= 0) {
          discarding = false;
          events.lineEnded();
        }
        if (piece.length === 0) continue;
        let sync = true;
        let calledSync = false;
        let failed: Error | null | undefined;
        write(piece, BUFFER, (err) => {
          if (err) {
            if (sync) {
              calledSync = true;
              failed = err;
            } else done(err);
            return;
          }
          if (sync) calledSync = true;
          else step();
        });
        sync = false;
        if (!calledSync) return;
        if (failed) {
          done(failed);
          return;
        }
        if (++lines >= MAX_SYNC_LINES) {
          lines = 0;
          setImmediate(step);
          return;
        }
      }
    };
    step();
  };

  parser._write = (chunk: Buffer, encoding: BufferEncoding, next: Next): void => {
    let done = next;
    if (!topActive) {
      topActive = true;
      topLength = chunk.length;
      done = (err) => {
        topActive = false;
        topLength = 0;
        next(err);
      };
    }
    if (!chunk || chunk.length === 0 || parser.isClosed) {
      write(chunk, encoding, done);
      return;
    }
    if (parser._dataMode) {
      lineBytes = 0;
      discarding = false;
      events.dataBytes(chunk.length);
      let sync = true;
      let calledSync = false;
      write(chunk, encoding, (err) => {
        if (sync) calledSync = true;
        else events.released();
        done(err);
      });
      sync = false;
      if (!calledSync) events.heldBack();
      return;
    }
    commandMode(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk), done);
  };

  return {
    pendingInput: () => rest > 0 || parser.writableLength > topLength || socketBuffered() > 0,
  };
}
