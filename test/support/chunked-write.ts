/** @module Writing to the relay in pieces, each reaching it as its own read (chunk-boundary tests). */
import type { SmtpDialogue } from './smtp-client.js';

/** Writes `data` in pieces of `size` bytes (0: one write), each after the previous is flushed. */
export async function writeChunked(c: SmtpDialogue, data: Buffer, size: number): Promise<void> {
  if (size === 0) {
    c.write(data);
    return;
  }
  for (let i = 0; i < data.length; i += size) {
    c.write(data.subarray(i, i + size));
    await new Promise((resolve) => setImmediate(resolve));
  }
}
