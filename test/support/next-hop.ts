/**
 * @module A real next hop for tests: an smtp-server on 127.0.0.1 that stores what it receives and
 * behaves one way each (TLS verified, self-signed, no STARTTLS, broken handshake, rejects some
 * recipients, dies mid-DATA).
 */
import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import type { KeyPair } from './pki.js';

export interface ReceivedMessage {
  readonly mailFrom: string;
  readonly mailArgs: Record<string, string | boolean>;
  readonly rcptTo: string[];
  readonly body: Buffer;
  readonly tlsProtocol: string | null;
  readonly helo: string;
  /** The user the hop authenticated for this message, if any. */
  readonly user: string | null;
}

export interface NextHopBehaviour {
  /** `tls`: STARTTLS with this certificate; `none`: not offered; `broken`: offered, handshake fails. */
  readonly tls:
    | { readonly kind: 'tls'; readonly pair: KeyPair }
    | { readonly kind: 'none' }
    | { readonly kind: 'broken'; readonly pair: KeyPair };
  /** Replies for RCPT by address; an entry `{ code, message }` refuses with that reply. */
  readonly rcptReplies?: Readonly<
    Record<string, { readonly code: number; readonly message: string | string[] }>
  >;
  /** Reply to the end of data; default accepts with `250 2.0.0 Ok: queued as Q<n>`. */
  readonly dataReply?: { readonly code: number; readonly message: string | string[] };
  /** Destroy the connection after this many body bytes. */
  readonly dieAfterBytes?: number;
  /** AUTH PLAIN/LOGIN against these users (after TLS); MAIL then requires authentication. */
  readonly users?: Readonly<Record<string, string>>;
  /** Extra smtp-server options (size, hide8BITMIME, hideSMTPUTF8, requestCert…). */
  readonly options?: Partial<SMTPServerOptions>;
  /** Where to listen; default 127.0.0.1, a free port. */
  readonly listen?: { readonly host: string; readonly port: number };
}

export interface TestNextHop {
  readonly port: number;
  readonly messages: ReceivedMessage[];
  /** Every MAIL FROM address the hop was sent, accepted or not: proof of what reached it. */
  readonly mailFroms: string[];
  /** Every connection's commands in order, e.g. ['EHLO x', 'STARTTLS', 'EHLO x', 'MAIL FROM:<a@b>'] */
  readonly connections: number;
  close(): Promise<void>;
}

export async function startNextHop(behaviour: NextHopBehaviour): Promise<TestNextHop> {
  const messages: ReceivedMessage[] = [];
  const mailFroms: string[] = [];
  let connections = 0;
  const tlsState = new WeakMap<object, string | null>();
  const tlsOptions =
    behaviour.tls.kind === 'tls'
      ? {
          key: behaviour.tls.pair.key,
          cert: behaviour.tls.pair.cert,
          minVersion: 'TLSv1.2' as const,
        }
      : behaviour.tls.kind === 'broken'
        ? // Offers STARTTLS but speaks only TLS 1.0/1.1, which the relay never negotiates.
          {
            key: behaviour.tls.pair.key,
            cert: behaviour.tls.pair.cert,
            minVersion: 'TLSv1' as const,
            maxVersion: 'TLSv1.1' as const,
            ciphers: 'DEFAULT@SECLEVEL=0',
          }
        : {};
  const server: SMTPServer = new SMTPServer({
    ...tlsOptions,
    name: 'next-hop.test',
    logger: false,
    authOptional: behaviour.users === undefined,
    disabledCommands: [
      ...(behaviour.tls.kind === 'none' ? ['STARTTLS'] : []),
      ...(behaviour.users ? [] : ['AUTH']),
    ],
    onAuth(auth, _session, cb) {
      const users = behaviour.users ?? {};
      if (auth.username !== undefined && users[auth.username] === auth.password)
        return cb(null, { user: auth.username });
      const err = new Error('5.7.8 Error: authentication failed: bad credentials') as Error & {
        responseCode: number;
      };
      err.responseCode = 535;
      cb(err);
    },
    disableReverseLookup: true,
    onConnect(_session, cb) {
      connections += 1;
      cb();
    },
    onMailFrom(address, _session, cb) {
      mailFroms.push(address.address);
      cb();
    },
    onSecure(socket, session, cb) {
      tlsState.set(session, (socket as TLSSocket).getProtocol());
      cb();
    },
    onRcptTo(address, _session, cb) {
      const r = behaviour.rcptReplies?.[address.address];
      if (!r) return cb();
      const err = new Error() as Error & { responseCode: number };
      err.responseCode = r.code;
      (err as unknown as { message: string | string[] }).message = r.message;
      cb(err);
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      let size = 0;
      stream.on('data', (c: Buffer) => {
        chunks.push(c);
        size += c.length;
        if (behaviour.dieAfterBytes !== undefined && size >= behaviour.dieAfterBytes) {
          for (const conn of (
            server as unknown as { connections: Set<{ _socket: { destroy(): void } }> }
          ).connections) {
            conn._socket.destroy();
          }
        }
      });
      stream.on('end', () => {
        if (behaviour.dieAfterBytes !== undefined) return;
        messages.push({
          mailFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          mailArgs: (session.envelope.mailFrom && session.envelope.mailFrom.args) || {},
          rcptTo: session.envelope.rcptTo.map((r) => r.address),
          body: Buffer.concat(chunks),
          tlsProtocol: tlsState.get(session) ?? null,
          helo: session.hostNameAppearsAs,
          user: typeof session.user === 'string' ? session.user : null,
        });
        const r = behaviour.dataReply;
        if (!r) return cb(null, `2.0.0 Ok: queued as Q${messages.length}`);
        const err = new Error() as Error & { responseCode: number };
        err.responseCode = r.code;
        (err as unknown as { message: string | string[] }).message = r.message;
        cb(err);
      });
    },
    ...behaviour.options,
  });
  server.on('error', () => undefined);
  const listen = behaviour.listen ?? { host: '127.0.0.1', port: 0 };
  await new Promise<void>((resolve) => server.listen(listen.port, listen.host, resolve));
  return {
    port: (server.server.address() as AddressInfo).port,
    messages,
    mailFroms,
    get connections() {
      return connections;
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** A port on 127.0.0.1 where nothing listens: a next hop that is down. */
export async function deadPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as AddressInfo).port;
  await new Promise((resolve) => s.close(resolve));
  return port;
}
