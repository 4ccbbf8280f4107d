/**
 * @module One probe connection: TCP, greeting, EHLO, STARTTLS, then a TLS handshake under the
 * versions and suites given, all within one deadline; never sends a message.
 */
import { constants } from 'node:crypto';
import { connect as netConnect, isIP, type Socket } from 'node:net';
import {
  connect as tlsConnect,
  type ConnectionOptions,
  type DetailedPeerCertificate,
  type SecureVersion,
  type TLSSocket,
} from 'node:tls';
import { ReplyReader, replyText, type SmtpReply } from './reply-reader.js';

export interface Endpoint {
  /** The host name: SNI and the name the certificate is checked against (unless an IP). */
  readonly name: string;
  readonly address: string;
  readonly port: number;
}

export interface DialogueOptions {
  readonly ehloName: string;
  readonly connectTimeoutMs: number;
  /** The whole attempt, connect to handshake. */
  readonly timeoutMs: number;
  /** Trust anchors (PEM); undefined: Node's bundled root store. */
  readonly ca: string | readonly string[] | undefined;
}

/** What the client offers in one handshake. */
export interface TlsOffer {
  readonly minVersion: SecureVersion;
  readonly maxVersion: SecureVersion;
  /** An OpenSSL cipher string for TLS 1.2 and older; TLS 1.3 suites stay OpenSSL's defaults. */
  readonly ciphers: string;
}

/** The facts of one completed handshake. */
export interface TlsSession {
  readonly protocol: string;
  readonly cipher: string;
  readonly keyExchange: string | null;
  /** The chain verified (the name is not checked here). */
  readonly chainValid: boolean;
  readonly chainError: string | null;
  readonly peer: DetailedPeerCertificate | null;
}

export type Attempt =
  /** No TCP connection (refused, timed out, no route). */
  | { readonly kind: 'unreachable'; readonly error: string }
  /** Connected, but no usable greeting or EHLO/HELO reply. */
  | { readonly kind: 'smtp-failed'; readonly banner: string | null; readonly error: string }
  | { readonly kind: 'no-starttls'; readonly banner: string }
  | { readonly kind: 'starttls-refused'; readonly banner: string; readonly error: string }
  /**
   * The handshake failed. `local`: our side could not even make the offer (no suite of the
   * list in this OpenSSL); `timedOut`: the server never finished it.
   */
  | {
      readonly kind: 'tls-failed';
      readonly banner: string;
      readonly error: string;
      readonly local: boolean;
      readonly timedOut: boolean;
    }
  | { readonly kind: 'tls'; readonly banner: string; readonly session: TlsSession };

/**
 * Every offer may reach a legacy server: RFC 5746 secure renegotiation is not required of it
 * (OpenSSL 3 refuses such servers by default). The probe sends no data, so this costs nothing.
 */
const LEGACY_SERVER = constants.SSL_OP_LEGACY_SERVER_CONNECT;

/** Our side could not make the offer at all: an empty suite list, no version left. */
const LOCAL_FAILURE = /NO_CIPHER_MATCH|NO_CIPHERS_AVAILABLE|NO_PROTOCOLS_AVAILABLE/;

export function describeError(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown };
  if (typeof e.code === 'string' && e.code.startsWith('ERR_SSL_')) return e.code;
  return typeof e.message === 'string' && e.message !== '' ? e.message.trim() : String(err);
}

class Timeout extends Error {}

/** What the attempt waits for now, named when the deadline passes. */
interface Progress {
  waitingFor: string;
}

interface Attempting {
  readonly sockets: Socket[];
  readonly progress: Progress;
  readonly deadline: Promise<never>;
}

/** One full attempt against `endpoint` with `offer`; never rejects, always ends by the deadline. */
export async function attemptStartTls(
  endpoint: Endpoint,
  offer: TlsOffer,
  options: DialogueOptions,
): Promise<Attempt> {
  const sockets: Socket[] = [];
  const progress: Progress = { waitingFor: 'the connection' };
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      reject(new Timeout(`no ${progress.waitingFor} within ${options.timeoutMs} ms`));
      for (const s of sockets) s.destroy();
    }, options.timeoutMs);
  });
  deadline.catch(() => undefined);
  try {
    return await dialogue(endpoint, offer, options, { sockets, progress, deadline });
  } finally {
    clearTimeout(timer);
  }
}

async function dialogue(
  endpoint: Endpoint,
  offer: TlsOffer,
  options: DialogueOptions,
  { sockets, progress, deadline }: Attempting,
): Promise<Attempt> {
  const within = <T>(p: Promise<T>): Promise<T> => Promise.race([p, deadline]);
  let socket: Socket;
  try {
    socket = await within(connectTcp(endpoint, options.connectTimeoutMs, sockets));
  } catch (err) {
    return { kind: 'unreachable', error: describeError(err) };
  }
  const reader = new ReplyReader(socket);
  const command = async (line: string): Promise<SmtpReply> => {
    progress.waitingFor = `reply to ${line.split(' ')[0] ?? line}`;
    socket.write(`${line}\r\n`);
    return within(reader.next());
  };

  let banner: string | null = null;
  let starttls: boolean;
  try {
    // RFC 5321 §4.3.1: the greeting is 220; 554 means no service here.
    progress.waitingFor = 'greeting';
    const greeting = await within(reader.next());
    banner = replyText(greeting);
    if (greeting.code !== 220) {
      socket.destroy();
      return { kind: 'smtp-failed', banner, error: `greeting: ${banner}` };
    }
    let ehlo = await command(`EHLO ${options.ehloName}`);
    if (ehlo.code >= 500) {
      // RFC 5321 §3.2: an old server may know HELO only; then it cannot know STARTTLS.
      const helo = await command(`HELO ${options.ehloName}`);
      if (helo.code !== 250) throw new Error(`EHLO and HELO refused: ${replyText(helo)}`);
      ehlo = { code: 250, lines: [] };
    }
    if (ehlo.code !== 250) throw new Error(`EHLO: ${replyText(ehlo)}`);
    // RFC 3207 §4: the server advertises the STARTTLS keyword in its EHLO reply.
    starttls = ehlo.lines.slice(1).some((l) => /^STARTTLS(\s|$)/i.test(l));
  } catch (err) {
    socket.destroy();
    return { kind: 'smtp-failed', banner, error: describeError(err) };
  }
  if (!starttls) {
    quit(socket);
    return { kind: 'no-starttls', banner };
  }

  try {
    const reply = await command('STARTTLS');
    // RFC 3207 §4: 220 means go ahead with the handshake; anything else is a refusal.
    if (reply.code !== 220) {
      quit(socket);
      return { kind: 'starttls-refused', banner, error: `STARTTLS: ${replyText(reply)}` };
    }
  } catch (err) {
    socket.destroy();
    return { kind: 'starttls-refused', banner, error: `STARTTLS: ${describeError(err)}` };
  }
  if (reader.detach()) {
    socket.destroy();
    return {
      kind: 'starttls-refused',
      banner,
      error: 'the server sent data after its 220 to STARTTLS',
    };
  }

  try {
    progress.waitingFor = 'TLS handshake';
    const secure = await within(handshake(socket, endpoint, offer, options, sockets));
    const session = sessionFacts(secure);
    quit(secure);
    return { kind: 'tls', banner, session };
  } catch (err) {
    socket.destroy();
    const error = describeError(err);
    return {
      kind: 'tls-failed',
      banner,
      error,
      local: LOCAL_FAILURE.test(error),
      timedOut: err instanceof Timeout,
    };
  }
}

function connectTcp(endpoint: Endpoint, timeoutMs: number, sockets: Socket[]): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host: endpoint.address, port: endpoint.port });
    sockets.push(socket);
    socket.setTimeout(timeoutMs, () => {
      socket.destroy();
      reject(new Error(`connect to ${endpoint.address}:${endpoint.port} timed out`));
    });
    socket.once('error', reject);
    socket.once('connect', () => {
      socket.setTimeout(0);
      socket.off('error', reject);
      // Later errors surface through the reader or the TLS socket; never as an uncaught event.
      socket.on('error', () => undefined);
      resolve(socket);
    });
  });
}

function handshake(
  socket: Socket,
  endpoint: Endpoint,
  offer: TlsOffer,
  options: DialogueOptions,
  sockets: Socket[],
): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const tlsOptions: ConnectionOptions = {
      socket,
      minVersion: offer.minVersion,
      maxVersion: offer.maxVersion,
      ciphers: offer.ciphers,
      secureOptions: LEGACY_SERVER,
      // The chain is judged from `authorized`, the name by certificate.ts: never refuse here.
      rejectUnauthorized: false,
      checkServerIdentity: () => undefined,
      // RFC 6066 §3: SNI carries host names only, never an address literal.
      ...(isIP(endpoint.name) === 0 ? { servername: endpoint.name } : {}),
      ...(options.ca !== undefined
        ? { ca: typeof options.ca === 'string' ? options.ca : [...options.ca] }
        : {}),
    };
    let secure: TLSSocket;
    try {
      secure = tlsConnect(tlsOptions);
    } catch (err) {
      // An invalid suite list throws at once (ERR_SSL_NO_CIPHER_MATCH).
      reject(err instanceof Error ? err : new Error(String(err)));
      return;
    }
    sockets.push(secure);
    secure.on('error', () => undefined);
    secure.once('error', reject);
    secure.once('secureConnect', () => {
      secure.off('error', reject);
      resolve(secure);
    });
  });
}

function sessionFacts(socket: TLSSocket): TlsSession {
  const key = socket.getEphemeralKeyInfo();
  const keyExchange =
    key && typeof key === 'object' && 'type' in key
      ? key.type === 'ECDH'
        ? (key.name ?? 'ECDH')
        : `${key.type} ${key.size ?? ''}`.trim()
      : null;
  const error = socket.authorizationError as unknown as Error | string | null | undefined;
  const peer = socket.getPeerCertificate(true);
  return {
    protocol: socket.getProtocol() ?? 'unknown',
    cipher: socket.getCipher().name,
    keyExchange,
    chainValid: socket.authorized,
    chainError: socket.authorized
      ? null
      : error === null || error === undefined
        ? 'unverified'
        : typeof error === 'string'
          ? error
          : error.message,
    peer: Object.keys(peer).length === 0 ? null : peer,
  };
}

/** RFC 5321 §4.1.1.10: end politely; the socket is gone a moment later whatever the server does. */
function quit(socket: Socket): void {
  socket.on('error', () => undefined);
  socket.end('QUIT\r\n');
  setTimeout(() => socket.destroy(), 1000).unref();
}
