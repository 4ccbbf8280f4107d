/** @module The one boundary from a Reply to what smtp-server's callbacks expect. */
import type { Reply } from './reply.js';

/**
 * smtp-server writes `err.responseCode` and `err.message` verbatim; an array message becomes a
 * multi-line reply (its `send()`), so a next hop's reply is mirrored line for line. Every DATA
 * reply, a 250 included, travels this way: the object is a reply, not a fault, so no stack trace
 * is captured for it (that capture was the costliest step of building it).
 */
export function toServerError(reply: Reply): Error & { responseCode: number } {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  const err = new Error() as Error & { responseCode: number };
  Error.stackTraceLimit = limit;
  err.responseCode = reply.code;
  const message: string | string[] =
    reply.lines.length === 1 ? (reply.lines[0] ?? '') : [...reply.lines];
  (err as unknown as { message: string | string[] }).message = message;
  return err;
}
