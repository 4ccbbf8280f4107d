/**
 * @module One SMTP connection to a next hop, command by command: nodemailer's SMTPConnection
 * (connect, EHLO, STARTTLS with its response-injection hardening, reply assembly, 421 rule)
 * extended with the lockstep `command()` and streamed `data()` that live mirroring needs.
 *
 * nodemailer has no public per-command API, so this reaches into internals of the pinned 10.6.0:
 * `_sendCommand`, `_responseActions`, `_responseQueue`, `_remainder`, `_socket` and `_ehloLines`.
 * The canary tests in test/unit/outbound/nodemailer-internals.test.ts fail first if they move.
 */
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import SMTPConnection from 'nodemailer/lib/smtp-connection';
import { parseReply, type Reply } from '../smtp/reply.js';
import { BodyEncoder, type BodyLimits } from './body-encoder.js';

export type { BodyLimits } from './body-encoder.js';

interface Internals {
  _sendCommand(line: string): void;
  _responseActions: Array<(raw: string) => void>;
  _responseQueue: string[];
  _remainder: string;
  _socket: Socket | TLSSocket | false | null;
  _ehloLines?: string[];
}

/** Why a command got no usable reply: the connection closed, timed out or answered garbage. */
export class HopLostError extends Error {
  constructor(
    message: string,
    readonly reason: 'closed' | 'timeout' | 'garbled',
  ) {
    super(message);
    this.name = 'HopLostError';
  }
}

/**
 * What happened to a DATA transfer. `refused`: the hop answered the DATA command itself with an
 * error (its transaction stays open); `replied`: the hop's reply to our terminating dot.
 */
export type DataOutcome =
  | { readonly kind: 'replied'; readonly reply: Reply; readonly bytes: number }
  | { readonly kind: 'refused'; readonly reply: Reply; readonly bytes: number }
  | { readonly kind: 'client-aborted'; readonly bytes: number }
  | { readonly kind: 'too-big'; readonly bytes: number }
  /** The content check refused a chunk with this reply: nothing from it on was forwarded. */
  | { readonly kind: 'bad-content'; readonly reply: Reply; readonly bytes: number };

/** A command line never carries CR, LF or other controls (RFC 5321 §2.3.8): no injection. */
function hasControl(line: string): boolean {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  return /[\x00-\x1f\x7f]/.test(line);
}

/** RFC 5321 §4.2.1: only DATA may be answered 3xx; anything else is a hop out of step. */
type Expect = 'final' | 'intermediate';

function inStep(code: number, expect: Expect): boolean {
  if (code >= 400) return true;
  return expect === 'intermediate' ? code === 354 : code < 300;
}

/** How long a QUIT may wait for its 221 before the socket is simply closed. */
const QUIT_GRACE_MS = 5000;

export class HopConnection extends SMTPConnection {
  readonly #waiting = new Set<(err: Error) => void>();
  #lost: HopLostError | undefined;
  /** When the last in-step reply arrived (0: none yet). */
  #lastReplyAt = 0;
  /** The EHLO keywords parsed from nodemailer's current list of EHLO lines. */
  #extensions: { readonly lines: readonly string[]; readonly map: Map<string, string> } | undefined;

  constructor(options: SMTPConnection.Options) {
    super(options);
    const fail = (err?: Error): void => {
      this.#lost ??= new HopLostError(err?.message ?? 'connection closed', 'closed');
      for (const reject of [...this.#waiting]) reject(this.#lost);
      this.#waiting.clear();
    };
    this.on('error', fail);
    this.on('end', () => fail());
  }

  get #internals(): Internals {
    return this as unknown as Internals;
  }

  /** True while the connection can carry another command. */
  get usable(): boolean {
    return this.#lost === undefined && !this.destroyed;
  }

  /** Milliseconds since the hop last answered in step (Infinity before any reply). */
  get quietMs(): number {
    return this.#lastReplyAt === 0 ? Infinity : Date.now() - this.#lastReplyAt;
  }

  /** A command or a DATA transfer is waiting for its reply. */
  get busy(): boolean {
    return this.#waiting.size > 0;
  }

  /** The negotiated TLS socket, when STARTTLS succeeded. */
  get tlsSocket(): TLSSocket | undefined {
    const socket = this.#internals._socket;
    return this.secure && socket ? (socket as TLSSocket) : undefined;
  }

  /** EHLO keywords of the current session (post-TLS when encrypted), upper-cased, with arguments. */
  get extensions(): ReadonlyMap<string, string> {
    // nodemailer replaces the array on every EHLO (after STARTTLS too): parsed once per EHLO.
    const lines = this.#internals._ehloLines ?? [];
    if (this.#extensions?.lines === lines) return this.#extensions.map;
    const map = new Map<string, string>();
    for (const line of lines) {
      const [keyword = '', ...rest] = line.trim().split(/\s+/);
      if (keyword !== '') map.set(keyword.toUpperCase(), rest.join(' '));
    }
    this.#extensions = { lines, map };
    return map;
  }

  /**
   * Sends one command line and resolves with the hop's 2xx, 4xx or 5xx reply; rejects with
   * HopLostError when the connection goes away, the reply is not SMTP or out of step, or
   * `deadlineMs` passes (the connection is then closed: a late reply would desynchronise it).
   */
  command(line: string, deadlineMs: number, expect: Expect = 'final'): Promise<Reply> {
    if (hasControl(line)) return Promise.reject(new Error('control character in command line'));
    return this.#expectReply(deadlineMs, expect, () => this.#internals._sendCommand(line));
  }

  /**
   * RFC 2920 §3.1: two commands of a group (MAIL and RCPT) in one write to a hop that offers
   * PIPELINING, the replies read in order, each judged in step as `command` does. The first
   * reply always comes back; the second is the HopLostError when the connection went away
   * after the first (a 421 to MAIL, say), so the caller can still mirror the first.
   */
  async pipeline(
    first: string,
    second: string,
    deadlineMs: number,
  ): Promise<readonly [Reply, Reply | HopLostError]> {
    if (hasControl(first) || hasControl(second)) {
      throw new Error('control character in command line');
    }
    const one = this.#expectReply(deadlineMs, 'final', () => undefined);
    const two = this.#expectReply(deadlineMs, 'final', () =>
      this.#internals._sendCommand(`${first}\r\n${second}`),
    ).catch((err: unknown) => {
      if (err instanceof HopLostError) return err;
      throw err;
    });
    const firstReply = await one.catch(async (err: unknown) => {
      await two.catch(() => undefined);
      throw err;
    });
    return [firstReply, await two];
  }

  /** QUIT when idle, else close: a QUIT written during DATA would become part of the body. */
  end(): void {
    if (!this.usable || this.busy) {
      this.close();
      return;
    }
    this.quit();
    setTimeout(() => this.close(), QUIT_GRACE_MS).unref();
  }

  /**
   * DATA: sends the command; on 354 streams `prefix` and then `source` through the BodyEncoder
   * (limits checked per chunk; bare CR and LF become CRLF and leading dots are stuffed exactly as
   * nodemailer's DataStream does: RFC 5321 §4.5.2) with backpressure, and resolves with the final
   * reply. The terminating dot is written only when
   * `source` ends normally: if the client vanishes or the message exceeds `maxBytes`, the
   * connection is destroyed so the hop never receives a complete message.
   */
  async data(
    source: Readable,
    prefix: string,
    limits: BodyLimits,
    deadlines: { readonly initiation: number; readonly final: number },
  ): Promise<DataOutcome> {
    // Not one byte may flow before the hop's 354: a chunk emitted with nothing piped is lost.
    source.pause();
    let clientGone = false;
    const whileWaiting = (): void => {
      clientGone = true;
      this.#kill('client left before the next hop answered DATA');
    };
    source.once('close', whileWaiting);
    source.once('error', whileWaiting);
    let go: Reply;
    try {
      go = await this.command('DATA', deadlines.initiation, 'intermediate');
    } catch (err) {
      if (clientGone) return { kind: 'client-aborted', bytes: 0 };
      source.resume();
      throw err;
    } finally {
      source.removeListener('close', whileWaiting);
      source.removeListener('error', whileWaiting);
    }
    if (go.code !== 354) {
      source.resume();
      return { kind: 'refused', reply: go, bytes: 0 };
    }
    if (this.#internals._responseQueue.length > 0 || this.#internals._remainder !== '') {
      // Something came right behind the 354: a reply to data the hop has not seen yet.
      this.#kill('reply queued behind 354');
      source.resume();
      throw new HopLostError('reply before any data was sent', 'garbled');
    }
    return this.#stream(source, prefix, limits, deadlines.final);
  }

  #stream(
    source: Readable,
    prefix: string,
    limits: BodyLimits,
    finalMs: number,
  ): Promise<DataOutcome> {
    const socket = this.#internals._socket;
    if (!socket || socket.destroyed) {
      source.resume();
      return Promise.reject(new HopLostError('no socket after 354', 'closed'));
    }
    return new Promise<DataOutcome>((resolve, reject) => {
      let settled = false;
      // Every chunk is counted and inspected before it may go on: an oversized or refused body
      // never reaches the hop past the chunk that broke the rule, and then never gets its dot.
      const encoder = new BodyEncoder(prefix, limits, (refusal) => abandon(refusal));
      // The encoder emits the terminating dot only after `source` ended normally, in its last
      // chunk. `committed`: that chunk has been handed to the socket (queued in this process);
      // `terminated`: the write carrying it completed, i.e. the dot was handed to the kernel.
      let committed = false;
      let terminated = false;
      let whenTerminated: ((err: Error | null | undefined) => void) | undefined;
      encoder.once('end', () => {
        committed = true;
        // Writes complete in order, so this empty write's callback means the dot was written;
        // on a destroyed socket it gets an error instead, and the dot was not.
        socket.write('', (err) => {
          if (!err) terminated = true;
          whenTerminated?.(err);
        });
      });
      encoder.pipe(socket, { end: false });
      /** Stops forwarding and lets the client finish sending, so smtp-server can reply. */
      const detach = (): void => {
        source.unpipe(encoder);
        encoder.unpipe(socket);
        if (!source.readableEnded) source.resume();
      };
      const finish = (outcome: DataOutcome | Error): void => {
        if (settled) return;
        settled = true;
        source.removeListener('error', onAbort);
        source.removeListener('close', onClose);
        encoder.unpipe(socket);
        if (outcome instanceof Error) reject(outcome);
        else resolve(outcome);
      };
      const abandon = (outcome: DataOutcome): void => {
        if (settled) return;
        this.#kill('message abandoned before its end');
        detach();
        finish(outcome);
      };
      const onAbort = (): void => abandon({ kind: 'client-aborted', bytes: encoder.bytes });
      const onClose = (): void => {
        if (!source.readableEnded) onAbort();
      };
      source.once('error', onAbort);
      source.once('close', onClose);
      if (source.destroyed && !source.readableEnded) {
        onAbort();
        return;
      }
      this.#expectReply(finalMs, 'final', () => source.pipe(encoder)).then(
        (final) => {
          if (!terminated && committed) {
            // The dot rides in the same write as the last chunk, and a write that did not fit the
            // kernel's buffer at once is reported done by Node after the bytes left (the hop can
            // answer first). The dot is on its way: judge the reply once it was written.
            this.#afterTermination(finalMs, (set) => (whenTerminated = set)).then(
              () => finish({ kind: 'replied', reply: final, bytes: encoder.bytes }),
              (err: Error) => {
                detach();
                finish(err);
              },
            );
            return;
          }
          if (!terminated) {
            // A reply before our terminating dot: never mirror a 2xx for bytes the hop did not get.
            this.#kill('reply before end of data');
            detach();
            finish(
              final.code < 400
                ? new HopLostError('premature positive reply to DATA', 'garbled')
                : { kind: 'replied', reply: final, bytes: encoder.bytes },
            );
            return;
          }
          finish({ kind: 'replied', reply: final, bytes: encoder.bytes });
        },
        (err: unknown) => {
          // The hop went away mid-transfer: stop forwarding, let the client finish sending.
          detach();
          finish(err instanceof Error ? err : new Error(String(err)));
        },
      );
    });
  }

  /**
   * Resolves when the write carrying the terminating dot completes; rejects when the socket failed
   * first or `deadlineMs` passes (the connection is then closed: a hop that stopped reading).
   */
  #afterTermination(
    deadlineMs: number,
    listen: (onWritten: (err: Error | null | undefined) => void) => void,
  ): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#kill('end of data not written');
        reject(new HopLostError(`end of data not written within ${deadlineMs} ms`, 'timeout'));
      }, deadlineMs);
      listen((err) => {
        clearTimeout(timer);
        if (err) reject(new HopLostError(`end of data not written: ${err.message}`, 'closed'));
        else resolve();
      });
    });
  }

  /** Closes at once, without QUIT: used when the protocol state can no longer be trusted. */
  #kill(why: string): void {
    this.#lost ??= new HopLostError(why, 'closed');
    const socket = this.#internals._socket;
    if (socket) socket.destroy();
    this.close();
  }

  #expectReply(deadlineMs: number, expect: Expect, send: () => void): Promise<Reply> {
    if (this.#lost) return Promise.reject(this.#lost);
    return new Promise<Reply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#lost ??= new HopLostError(`no reply within ${deadlineMs} ms`, 'timeout');
        this.#kill('deadline');
        reject(this.#lost);
      }, deadlineMs);
      const done = (): void => {
        clearTimeout(timer);
        this.#waiting.delete(onLost);
      };
      const onLost = (err: Error): void => {
        done();
        reject(err);
      };
      this.#waiting.add(onLost);
      this.#internals._responseActions.push((raw: string) => {
        done();
        const parsed = parseReply(raw);
        if (parsed && inStep(parsed.code, expect)) {
          this.#lastReplyAt = Date.now();
          resolve(parsed);
          return;
        }
        this.#lost ??= new HopLostError(
          parsed ? `reply ${parsed.code} out of step` : 'unparsable reply',
          'garbled',
        );
        this.#kill('garbled reply');
        reject(this.#lost);
      });
      send();
    });
  }
}
