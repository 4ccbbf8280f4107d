/**
 * @module A scripted next hop with STARTTLS, recorded connection by connection: every command line
 * as received, whether the TLS session was resumed, and when the connection ended. It can drop
 * idle clients (with 421, as servers do: RFC 5321 §4.5.3.2.7) or refuse RSET.
 */
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { createSecureContext, TLSSocket } from 'node:tls';
import type { KeyPair } from './pki.js';

export interface HopConnectionLog {
  /** Command lines received, without CRLF (body lines excluded). */
  readonly commands: string[];
  /** Set after STARTTLS: whether the client resumed an earlier TLS session. */
  resumed: boolean | undefined;
  closed: boolean;
}

export interface TlsRawHopOptions {
  readonly pair: KeyPair;
  /** EHLO keywords after the greeting line (before and after TLS); STARTTLS is added before TLS. */
  readonly ehlo?: readonly string[];
  /** Replies for commands starting with the key (full line); `421…` also closes. */
  readonly replies?: Readonly<Record<string, string>>;
  /** Send `421 4.4.2 idle timeout` and close after this long without a command. */
  readonly idleCloseMs?: number;
}

export interface TlsRawHop {
  readonly port: number;
  readonly connections: HopConnectionLog[];
  /** Messages accepted, in order. */
  readonly messages: number;
  /** Presents this certificate from the next connection on. */
  usePair(pair: KeyPair): void;
  close(): Promise<void>;
}

const DEFAULT_EHLO = ['8BITMIME', 'SMTPUTF8', 'PIPELINING'];

export async function startTlsRawHop(opts: TlsRawHopOptions): Promise<TlsRawHop> {
  const connections: HopConnectionLog[] = [];
  const sockets = new Set<Socket>();
  let messages = 0;
  // One context for every connection: its ticket keys let a client resume (RFC 8446 §2.2).
  let context = createSecureContext({ key: opts.pair.key, cert: opts.pair.cert });
  const server = createServer((plain) => {
    sockets.add(plain);
    plain.on('error', () => undefined);
    const log: HopConnectionLog = { commands: [], resumed: undefined, closed: false };
    connections.push(log);
    plain.on('close', () => {
      log.closed = true;
      sockets.delete(plain);
    });
    let socket: Socket = plain;
    let buffer = '';
    let inData = false;
    let idle: NodeJS.Timeout | undefined;
    const send = (text: string): void => {
      socket.write(`${text}\r\n`);
    };
    const armIdle = (): void => {
      if (opts.idleCloseMs === undefined) return;
      clearTimeout(idle);
      idle = setTimeout(() => {
        send('421 4.4.2 hop.test idle timeout, closing');
        socket.end();
      }, opts.idleCloseMs);
    };
    plain.on('close', () => clearTimeout(idle));
    const onData = (chunk: Buffer): void => {
      buffer += chunk.toString('latin1');
      for (;;) {
        if (inData) {
          const end = buffer.indexOf('\r\n.\r\n');
          if (end < 0) return;
          buffer = buffer.slice(end + 5);
          inData = false;
          messages += 1;
          send(`250 2.0.0 Ok: queued as Q${messages}`);
          armIdle();
          continue;
        }
        const eol = buffer.indexOf('\r\n');
        if (eol < 0) return;
        const line = buffer.slice(0, eol);
        buffer = buffer.slice(eol + 2);
        log.commands.push(line);
        armIdle();
        const verb = line.split(' ')[0]?.toUpperCase() ?? '';
        const custom = Object.entries(opts.replies ?? {}).find(([k]) =>
          line.toUpperCase().startsWith(k.toUpperCase()),
        );
        if (custom) {
          send(custom[1]);
          if (custom[1].startsWith('421')) socket.end();
        } else if (verb === 'EHLO') {
          const lines = [
            'hop.test',
            ...(opts.ehlo ?? DEFAULT_EHLO),
            ...(socket === plain ? ['STARTTLS'] : []),
          ];
          lines.forEach((l, i) => send(`250${i === lines.length - 1 ? ' ' : '-'}${l}`));
        } else if (verb === 'STARTTLS' && socket === plain) {
          send('220 2.0.0 Ready to start TLS');
          plain.removeListener('data', onData);
          buffer = '';
          const secure = new TLSSocket(plain, { isServer: true, secureContext: context });
          secure.on('error', () => undefined);
          secure.once('secure', () => {
            log.resumed = secure.isSessionReused();
          });
          secure.on('data', onData);
          socket = secure;
        } else if (verb === 'DATA') {
          inData = true;
          send('354 go ahead');
        } else if (verb === 'QUIT') {
          send('221 2.0.0 Bye');
          socket.end();
        } else if (['MAIL', 'RCPT', 'RSET', 'NOOP'].includes(verb)) {
          send('250 2.0.0 Ok');
        } else {
          send('502 5.5.2 Command not recognized');
        }
      }
    };
    plain.on('data', onData);
    send('220 hop.test ESMTP');
    armIdle();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    connections,
    get messages() {
      return messages;
    },
    usePair(pair) {
      context = createSecureContext({ key: pair.key, cert: pair.cert });
    },
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
