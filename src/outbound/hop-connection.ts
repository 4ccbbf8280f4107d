/**
 * @module One SMTP connection to a next hop, command by command: nodemailer's SMTPConnection
 * (connect, EHLO, STARTTLS with its response-injection hardening, reply assembly, 421 rule)
 * extended with the lockstep `command()` and streamed `data()` that live mirroring needs.
 *
 * nodemailer has no public per-command API, so this reaches into four internals of the pinned
 * 10.6.0: `_sendCommand`, `_responseActions`, `_socket` and `_ehloLines`. The canary tests in
 * test/unit/outbound/nodemailer-internals.test.ts fail first if an upgrade moves them.
 */
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import SMTPConnection from 'nodemailer/lib/smtp-connection';
import DataStream from 'nodemailer/lib/smtp-connection/data-stream';
import { parseReply, type Reply } from '../smtp/reply.js';

interface Internals {
  _sendCommand(line: string): void;
  _responseActions: Array<(raw: string) => void>;
  _socket: Socket | TLSSocket | false | null;
  _ehloLines?: string[];
}

/** Why a command got no reply: the connection closed, timed out or answered garbage. */
export class HopLostError extends Error {
  constructor(
    message: string,
    readonly reason: 'closed' | 'timeout' | 'garbled',
  ) {
    super(message);
    this.name = 'HopLostError';
  }
}

/** What happened to a DATA transfer. `reply` is the next hop's own, to be mirrored. */
export type DataOutcome =
  | { readonly kind: 'replied'; readonly reply: Reply }
  | { readonly kind: 'client-aborted' }
  | { readonly kind: 'too-big' };

export class HopConnection extends SMTPConnection {
  readonly #waiting = new Set<(err: Error) => void>();
  #lost: HopLostError | undefined;

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

  /** The negotiated TLS socket, when STARTTLS succeeded. */
  get tlsSocket(): TLSSocket | undefined {
    const socket = this.#internals._socket;
    return this.secure && socket ? (socket as TLSSocket) : undefined;
  }

  /** EHLO keywords of the current session (post-TLS when encrypted), upper-cased, with arguments. */
  get extensions(): ReadonlyMap<string, string> {
    const map = new Map<string, string>();
    for (const line of this.#internals._ehloLines ?? []) {
      const [keyword = '', ...rest] = line.trim().split(/\s+/);
      if (keyword !== '') map.set(keyword.toUpperCase(), rest.join(' '));
    }
    return map;
  }

  /**
   * Sends one command line and resolves with the hop's reply; rejects with HopLostError when the
   * connection goes away, the reply is not SMTP, or `deadlineMs` passes (the connection is then
   * closed, since a late reply would desynchronise it).
   */
  command(line: string, deadlineMs: number): Promise<Reply> {
    // A command line never carries CR, LF or other controls (RFC 5321 §2.3.8): no injection.
    // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
    if (/[\x00-\x1f\x7f]/.test(line)) {
      return Promise.reject(new Error('control character in command line'));
    }
    return this.#expectReply(deadlineMs, () => this.#internals._sendCommand(line));
  }

  /**
   * DATA: sends the command; on 354 streams `prefix` and then `source` through nodemailer's
   * DataStream (bare CR and LF become CRLF, leading dots are stuffed: RFC 5321 §4.5.2) with
   * backpressure, and resolves with the final reply. The terminating dot is written only when
   * `source` ends normally: if the client vanishes or the message exceeds `maxBytes`, the
   * connection is destroyed so the hop never receives a complete message.
   */
  async data(
    source: Readable,
    prefix: string,
    maxBytes: number,
    deadlines: { readonly initiation: number; readonly final: number },
  ): Promise<DataOutcome> {
    const go = await this.command('DATA', deadlines.initiation);
    if (go.code !== 354) {
      source.resume();
      if (go.code < 400) {
        // A 2xx to DATA itself accepted nothing: never let it reach the client as a 250.
        this.#kill('positive reply to DATA instead of 354');
        throw new HopLostError(`unexpected ${go.code} reply to DATA`, 'garbled');
      }
      return { kind: 'replied', reply: go };
    }
    const socket = this.#internals._socket;
    if (!socket) throw new HopLostError('no socket after 354', 'closed');
    const dotStream = new DataStream();
    let terminated = false;
    dotStream.once('end', () => (terminated = true));
    dotStream.pipe(socket, { end: false });
    dotStream.write(prefix);

    return new Promise<DataOutcome>((resolve, reject) => {
      let settled = false;
      let bytes = 0;
      const finish = (outcome: DataOutcome | Error): void => {
        if (settled) return;
        settled = true;
        source.removeListener('data', onData);
        source.removeListener('error', onAbort);
        source.removeListener('close', onClose);
        dotStream.unpipe(socket);
        if (outcome instanceof Error) reject(outcome);
        else resolve(outcome);
      };
      const abandon = (outcome: DataOutcome): void => {
        source.unpipe(dotStream);
        dotStream.unpipe(socket);
        this.#kill('message abandoned before its end');
        if (!source.readableEnded) source.resume();
        finish(outcome);
      };
      const onData = (chunk: Buffer): void => {
        bytes += chunk.length;
        if (bytes > maxBytes) abandon({ kind: 'too-big' });
      };
      const onAbort = (): void => abandon({ kind: 'client-aborted' });
      const onClose = (): void => {
        if (!source.readableEnded) onAbort();
      };
      source.on('data', onData);
      source.once('error', onAbort);
      source.once('close', onClose);

      this.#expectReply(deadlines.final, () => source.pipe(dotStream)).then(
        (final) => {
          if (!terminated) {
            // A reply before our terminating dot: never mirror a 2xx for bytes the hop did not get.
            this.#kill('reply before end of data');
            finish(
              final.code < 400
                ? new HopLostError('premature positive reply to DATA', 'garbled')
                : { kind: 'replied', reply: final },
            );
            source.resume();
            return;
          }
          finish({ kind: 'replied', reply: final });
        },
        (err: unknown) => {
          // The hop went away mid-transfer: stop forwarding, let the client finish sending.
          source.unpipe(dotStream);
          if (!source.readableEnded) source.resume();
          finish(err instanceof Error ? err : new Error(String(err)));
        },
      );
    });
  }

  /** Closes at once, without QUIT: used when the protocol state can no longer be trusted. */
  #kill(why: string): void {
    this.#lost ??= new HopLostError(why, 'closed');
    const socket = this.#internals._socket;
    if (socket) socket.destroy();
    this.close();
  }

  #expectReply(deadlineMs: number, send: () => void): Promise<Reply> {
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
        if (parsed) {
          resolve(parsed);
        } else {
          this.#lost ??= new HopLostError('unparsable reply', 'garbled');
          this.#kill('garbled reply');
          reject(this.#lost);
        }
      });
      send();
    });
  }
}
