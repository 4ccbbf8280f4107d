/**
 * @module A line-by-line SMTP client for tests: sends exact bytes, returns exact reply lines,
 * upgrades with STARTTLS, and notices when the server closes.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';

export class SmtpDialogue {
  #socket: Socket | TLSSocket;
  #buffer = '';
  #lines: string[] = [];
  #waiters: Array<() => void> = [];
  #closed = false;

  private constructor(socket: Socket) {
    this.#socket = socket;
    this.#attach(socket);
  }

  static async connect(
    port: number,
    host = '127.0.0.1',
    localAddress?: string,
  ): Promise<SmtpDialogue> {
    const socket = netConnect({
      port,
      host,
      ...(localAddress !== undefined ? { localAddress } : {}),
    });
    socket.setNoDelay(true);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new SmtpDialogue(socket);
  }

  /** Implicit TLS from the first byte (RFC 8314, port 465). */
  static async connectTls(port: number, host = '127.0.0.1'): Promise<SmtpDialogue> {
    const socket = tlsConnect({ port, host, rejectUnauthorized: false, servername: 'relay.test' });
    await new Promise<void>((resolve, reject) => {
      socket.once('secureConnect', resolve);
      socket.once('error', reject);
    });
    return new SmtpDialogue(socket);
  }

  get closed(): boolean {
    return this.#closed;
  }

  get tlsSocket(): TLSSocket | undefined {
    return 'getProtocol' in this.#socket ? this.#socket : undefined;
  }

  #attach(socket: Socket): void {
    socket.on('data', (chunk: Buffer) => {
      this.#buffer += chunk.toString('utf8');
      let i: number;
      while ((i = this.#buffer.indexOf('\r\n')) >= 0) {
        this.#lines.push(this.#buffer.slice(0, i));
        this.#buffer = this.#buffer.slice(i + 2);
      }
      this.#wake();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.#closed = true;
      this.#wake();
    });
  }

  #wake(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }

  /** The next complete reply, all its lines (`250-…`, `250 …`). Rejects if the server closes first. */
  async reply(): Promise<string[]> {
    for (;;) {
      const end = this.#lines.findIndex((l) => /^\d{3} /.test(l) || /^\d{3}$/.test(l));
      if (end >= 0) return this.#lines.splice(0, end + 1);
      if (this.#closed)
        throw new Error(`connection closed; pending lines: ${JSON.stringify(this.#lines)}`);
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }

  /** The last line of the next reply. */
  async line(): Promise<string> {
    const r = await this.reply();
    return r[r.length - 1] ?? '';
  }

  write(data: string | Buffer): void {
    this.#socket.write(data);
  }

  /** Sends one command line (CRLF added) and returns the last line of its reply. */
  async send(command: string): Promise<string> {
    this.write(`${command}\r\n`);
    return this.line();
  }

  /** EHLO, STARTTLS, handshake, EHLO again; returns the post-TLS EHLO reply lines. */
  async startTls(helo = 'client.test'): Promise<string[]> {
    await this.send(`EHLO ${helo}`);
    const ready = await this.send('STARTTLS');
    if (!ready.startsWith('220 ')) throw new Error(`STARTTLS refused: ${ready}`);
    const plain = this.#socket;
    plain.removeAllListeners('data');
    const secure = tlsConnect({
      socket: plain,
      rejectUnauthorized: false,
      servername: 'relay.test',
    });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', resolve);
      secure.once('error', reject);
    });
    this.#socket = secure;
    this.#attach(secure);
    this.write(`EHLO ${helo}\r\n`);
    return this.reply();
  }

  /**
   * Completes a TLS handshake on the current socket after the caller saw `220` to STARTTLS,
   * without sending EHLO: for tests of what the server does with injected plaintext.
   */
  async upgradeRaw(): Promise<SmtpDialogue> {
    const plain = this.#socket;
    plain.removeAllListeners('data');
    const secure = tlsConnect({
      socket: plain,
      rejectUnauthorized: false,
      servername: 'relay.test',
    });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', resolve);
      secure.once('error', reject);
    });
    this.#socket = secure;
    this.#lines = [];
    this.#attach(secure);
    return this;
  }

  /** Waits until the server closes the connection. */
  async waitClosed(): Promise<void> {
    while (!this.#closed) await new Promise<void>((resolve) => this.#waiters.push(resolve));
  }

  close(): void {
    this.#socket.destroy();
  }
}
