/** A minimal SMTP client wire for the bench: reads whole replies, writes lines, upgrades to TLS. */
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';

export interface SmtpReply {
  readonly code: number;
  readonly text: string;
}

export class SmtpWire {
  #socket: Socket | TLSSocket;
  #buffer = '';
  #replyLines: string[] = [];
  #replies: SmtpReply[] = [];
  #waiter: ((r: SmtpReply | Error) => void) | undefined;
  #failure: Error | undefined;

  private constructor(socket: Socket) {
    this.#socket = socket;
    this.#attach(socket);
  }

  static connect(port: number, host = '127.0.0.1'): Promise<SmtpWire> {
    return new Promise((resolve, reject) => {
      const socket = netConnect({ port, host, noDelay: true });
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(new SmtpWire(socket));
      });
    });
  }

  #attach(socket: Socket | TLSSocket): void {
    socket.on('data', (chunk: Buffer) => this.#onData(chunk.toString('latin1')));
    socket.on('error', (err: Error) => this.#fail(err));
    socket.on('close', () => this.#fail(new Error('connection closed')));
  }

  #onData(chunk: string): void {
    this.#buffer += chunk;
    let i: number;
    while ((i = this.#buffer.indexOf('\r\n')) >= 0) {
      const line = this.#buffer.slice(0, i);
      this.#buffer = this.#buffer.slice(i + 2);
      this.#replyLines.push(line);
      if (line.charAt(3) !== '-') {
        const reply = { code: Number(line.slice(0, 3)), text: this.#replyLines.join('\n') };
        this.#replyLines = [];
        this.#deliver(reply);
      }
    }
  }

  #deliver(reply: SmtpReply | Error): void {
    const waiter = this.#waiter;
    if (waiter) {
      this.#waiter = undefined;
      waiter(reply);
    } else if (!(reply instanceof Error)) {
      this.#replies.push(reply);
    }
  }

  #fail(err: Error): void {
    this.#failure ??= err;
    this.#deliver(err);
  }

  /** The next reply; rejects when the connection fails or closes first. */
  reply(): Promise<SmtpReply> {
    const queued = this.#replies.shift();
    if (queued) return Promise.resolve(queued);
    if (this.#failure) return Promise.reject(this.#failure);
    return new Promise((resolve, reject) => {
      this.#waiter = (r) => (r instanceof Error ? reject(r) : resolve(r));
    });
  }

  /** Sends `data` and resolves with the next reply, which must have the `expect` code. */
  async exchange(data: string | Buffer, expect: number): Promise<SmtpReply> {
    this.#socket.write(data);
    const reply = await this.reply();
    if (reply.code !== expect) {
      const sent = typeof data === 'string' ? data.slice(0, 40).trim() : 'message body';
      throw new Error(`${sent}: expected ${expect}, got ${reply.text}`);
    }
    return reply;
  }

  /** STARTTLS handshake on the current socket (call after the server's 220 to STARTTLS). */
  upgrade(): Promise<void> {
    const plain = this.#socket;
    plain.removeAllListeners('data');
    plain.removeAllListeners('error');
    plain.removeAllListeners('close');
    return new Promise((resolve, reject) => {
      const secure = tlsConnect({ socket: plain, rejectUnauthorized: false }, () => {
        secure.off('error', reject);
        this.#socket = secure;
        this.#attach(secure);
        resolve();
      });
      secure.once('error', reject);
    });
  }

  close(): void {
    this.#socket.destroy();
  }
}
