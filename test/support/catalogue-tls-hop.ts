/**
 * @module A scripted next hop that offers STARTTLS and writes its STARTTLS reply as the test
 * says, in one write: for response injection (catalogue ST-09, NO STARTTLS, RFC 3207 §4.2), where
 * a MitM or a broken hop puts reply bytes behind the `220` before the handshake.
 */
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import type { KeyPair } from './pki.js';

export interface TlsHopOptions {
  /** The certificate the hop presents after STARTTLS. */
  readonly identity: KeyPair;
  /** The whole answer to STARTTLS, written in one write (CRLFs as given); TLS follows a 220. */
  readonly startTlsReply: string;
  /** EHLO keywords before TLS (STARTTLS is added) and after it. */
  readonly ehloPlain: readonly string[];
  readonly ehloTls: readonly string[];
}

export interface TlsHop {
  readonly port: number;
  /** Every command line per connection, `[tls]` marking those read after the handshake. */
  readonly commands: string[][];
  /** Message bodies as received (dot-stuffed, without the final dot). */
  readonly bodies: Buffer[];
  close(): Promise<void>;
}

export async function startTlsHop(opts: TlsHopOptions): Promise<TlsHop> {
  const commands: string[][] = [];
  const bodies: Buffer[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((plain) => {
    sockets.add(plain);
    plain.setNoDelay(true);
    plain.on('close', () => sockets.delete(plain));
    plain.on('error', () => undefined);
    const mine: string[] = [];
    commands.push(mine);
    let socket: Socket = plain;
    let secure = false;
    let buffer = Buffer.alloc(0);
    let inData = false;
    const ehlo = (keywords: readonly string[]): string[] =>
      keywords.map((k, i) => `250${i === keywords.length - 1 ? ' ' : '-'}${k}`);
    const onData = (chunk: Buffer): void => {
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        if (inData) {
          const end = buffer.indexOf('\r\n.\r\n');
          if (end < 0) return;
          bodies.push(buffer.subarray(0, end + 2));
          buffer = buffer.subarray(end + 5);
          inData = false;
          socket.write('250 2.0.0 Ok: queued\r\n');
          continue;
        }
        const eol = buffer.indexOf('\r\n');
        if (eol < 0) return;
        const line = buffer.subarray(0, eol).toString('utf8');
        buffer = buffer.subarray(eol + 2);
        mine.push(secure ? `[tls] ${line}` : line);
        const verb = line.split(' ')[0]?.toUpperCase() ?? '';
        if (verb === 'EHLO') {
          socket.write(
            `${(secure ? ehlo(opts.ehloTls) : ehlo([...opts.ehloPlain, 'STARTTLS'])).join('\r\n')}\r\n`,
          );
        } else if (verb === 'STARTTLS' && !secure) {
          // The reply and whatever the test put behind it leave in one segment, then TLS.
          plain.write(opts.startTlsReply);
          // A refusal (454) keeps the session in plaintext (RFC 3207 §4).
          if (!opts.startTlsReply.startsWith('220')) continue;
          plain.removeListener('data', onData);
          buffer = Buffer.alloc(0);
          const tls = new TLSSocket(plain, {
            isServer: true,
            key: opts.identity.key,
            cert: opts.identity.cert,
          });
          tls.on('error', () => undefined);
          tls.on('data', onData);
          socket = tls;
          secure = true;
          return;
        } else if (verb === 'DATA') {
          inData = true;
          socket.write('354 go ahead\r\n');
        } else if (verb === 'QUIT') {
          socket.end('221 2.0.0 Bye\r\n');
        } else if (['MAIL', 'RCPT', 'RSET', 'NOOP'].includes(verb)) {
          socket.write('250 2.0.0 Ok\r\n');
        } else {
          socket.write('502 5.5.2 Command not recognized\r\n');
        }
      }
    };
    plain.on('data', onData);
    plain.write('220 tls-hop.test ESMTP\r\n');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    commands,
    bodies,
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
