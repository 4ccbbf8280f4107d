/** @module Our typed view of one inbound session, built from smtp-server's session and onSecure. */
import type { TLSSocket } from 'node:tls';
import type { SMTPServerSession } from 'smtp-server';
import { PLAINTEXT, type TlsFacts } from '../outbound/tls-facts.js';
import type { InboundFacts } from '../relay/record.js';

/**
 * Inbound TLS facts. The protocol comes from getProtocol(): smtp-server's
 * `session.tlsOptions.version` is the cipher's minimum version, not what was negotiated.
 */
export function inboundTlsFacts(socket: TLSSocket): TlsFacts {
  const cert = socket.getPeerCertificate();
  const presented = cert !== null && Object.keys(cert).length > 0;
  return {
    level: 'encrypted',
    protocol: socket.getProtocol(),
    cipher: socket.getCipher()?.name ?? null,
    // A client certificate is not asked for on the mta listener: nothing to verify.
    verified: presented && socket.authorized,
  };
}

/** smtp-server types these as strings but sets them to false until the client sent one. */
function text(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

export function inboundFacts(
  listener: string,
  session: SMTPServerSession,
  tls: TlsFacts | undefined,
): InboundFacts {
  const hostname = text(session.clientHostname);
  const user = session.user as { username?: unknown } | string | undefined | false;
  return {
    listener,
    sessionId: session.id,
    clientAddress: session.remoteAddress,
    clientPort: session.remotePort,
    clientHostname: hostname && !hostname.startsWith('[') ? hostname : undefined,
    helo: text(session.hostNameAppearsAs),
    ehlo: text(session.openingCommand)?.toUpperCase() !== 'HELO',
    tls: tls ?? PLAINTEXT,
    user:
      typeof user === 'string'
        ? user
        : typeof user === 'object' && user
          ? text(user.username)
          : undefined,
  };
}
