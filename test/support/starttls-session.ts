/** @module A STARTTLS handshake offering a saved TLS session: whether the server resumed it, and the ticket it gave. */
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect, type SecureVersion } from 'node:tls';

export interface Handshake {
  readonly reused: boolean;
  readonly protocol: string | null;
  /** The session to offer next time (the server's ticket); a resumed session may bring none. */
  readonly session: Buffer | undefined;
  /** The EHLO reply after TLS, every line. */
  readonly ehlo: string[];
}

/** Reads whole replies off a socket: resolves with the lines of the next complete reply. */
function replyReader(socket: NodeJS.ReadableStream): () => Promise<string[]> {
  let buffer = '';
  let lines: string[] = [];
  const ready: string[][] = [];
  let waiter: ((r: string[]) => void) | undefined;
  const onData = (chunk: Buffer): void => {
    buffer += chunk.toString('latin1');
    let i: number;
    while ((i = buffer.indexOf('\r\n')) >= 0) {
      const line = buffer.slice(0, i);
      buffer = buffer.slice(i + 2);
      lines.push(line);
      if (line.charAt(3) !== '-') {
        const reply = lines;
        lines = [];
        if (waiter) {
          const w = waiter;
          waiter = undefined;
          w(reply);
        } else ready.push(reply);
      }
    }
  };
  socket.on('data', onData);
  return () => {
    const queued = ready.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve) => (waiter = resolve));
  };
}

/** One SMTP session: greeting, EHLO, STARTTLS offering `session`, EHLO, QUIT. */
export async function starttls(
  port: number,
  options: { session?: Buffer | undefined; maxVersion?: SecureVersion } = {},
): Promise<Handshake> {
  const plain = netConnect({ port, host: '127.0.0.1' });
  await new Promise<void>((resolve, reject) => {
    plain.once('connect', resolve);
    plain.once('error', reject);
  });
  try {
    const plainReply = replyReader(plain);
    const next = async (): Promise<string> => (await plainReply()).join('\n');
    if (!(await next()).startsWith('220 ')) throw new Error('no greeting');
    plain.write('EHLO client.test\r\n');
    await next();
    plain.write('STARTTLS\r\n');
    const go = await next();
    if (go !== '220 Ready to start TLS') throw new Error(`STARTTLS: ${go}`);
    plain.removeAllListeners('data');
    const secure = tlsConnect({
      socket: plain,
      rejectUnauthorized: false,
      servername: 'relay.test',
      ...(options.session ? { session: options.session } : {}),
      ...(options.maxVersion ? { maxVersion: options.maxVersion } : {}),
    });
    // TLS 1.3 tickets come after the handshake (RFC 8446 §4.6.1), before the first reply.
    let session: Buffer | undefined;
    secure.once('session', (s: Buffer) => (session = s));
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', resolve);
      secure.once('error', reject);
    });
    const reply = replyReader(secure);
    secure.write('EHLO client.test\r\n');
    const ehlo = await reply();
    secure.write('QUIT\r\n');
    const bye = (await reply()).join('\n');
    if (bye !== '221 Bye') throw new Error(`QUIT: ${bye}`);
    const result = {
      reused: secure.isSessionReused(),
      protocol: secure.getProtocol(),
      session,
      ehlo,
    };
    secure.destroy();
    return result;
  } finally {
    plain.destroy();
  }
}
