// Inbound TLS session resumption: a client that kept its session resumes it over STARTTLS (TLS 1.3 and 1.2), and once the ticket key has rotated the old session no longer resumes.
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect, type SecureVersion } from 'node:tls';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { rotateTicketKeys, ticketKeyRotation } from '../../src/tls/session-tickets.js';
import { startTestRelay, type TestRelay } from '../support/relay.js';
import { EHLO_AFTER_TLS } from '../support/ehlo.js';

interface Handshake {
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
async function starttls(
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

function listenerServer(relay: TestRelay) {
  const listener = relay.relay.listeners.get('mta');
  if (!listener) throw new Error('no mta listener');
  return listener.server;
}

for (const maxVersion of ['TLSv1.3', 'TLSv1.2'] as const) {
  void t.test(`a saved ${maxVersion} session resumes over STARTTLS`, async (t) => {
    const relay = await startTestRelay({});
    t.teardown(() => relay.close());
    const first = await starttls(relay.port, { maxVersion });
    t.ok(first.session, 'the server issued a ticket');
    t.equal(first.protocol, maxVersion);
    t.equal(first.reused, false, 'the first handshake is a full one');
    t.same(first.ehlo, EHLO_AFTER_TLS);
    const second = await starttls(relay.port, { session: first.session, maxVersion });
    t.equal(second.protocol, maxVersion);
    t.equal(second.reused, true, 'the second connection resumed the saved session');
    t.same(second.ehlo, EHLO_AFTER_TLS);
  });
}

void t.test('after a key rotation the old session no longer resumes; a new one does', async (t) => {
  const relay = await startTestRelay({});
  t.teardown(() => relay.close());
  const rotation = ticketKeyRotation(listenerServer(relay));
  if (!rotation) throw new Error('the listener rotates no ticket keys');
  const before = await starttls(relay.port);
  t.equal((await starttls(relay.port, { session: before.session })).reused, true);
  rotation.rotate();
  t.equal(rotation.rotations, 1);
  const after = await starttls(relay.port, { session: before.session });
  t.equal(after.reused, false, 'a ticket sealed with the retired key gets a full handshake');
  t.same(after.ehlo, EHLO_AFTER_TLS);
  t.equal((await starttls(relay.port, { session: after.session })).reused, true);
});

void t.test(
  'the timer rotates the key: a ticket older than the window does not resume',
  async (t) => {
    const relay = await startTestRelay({});
    t.teardown(() => relay.close());
    const server = listenerServer(relay);
    const rotation = rotateTicketKeys(server, 1000);
    t.equal(ticketKeyRotation(server), rotation, 'the new rotation replaced the listener’s');
    const old = await starttls(relay.port);
    for (let i = 0; i < 100 && rotation.rotations < 1; i += 1) await sleep(50);
    t.ok(rotation.rotations >= 1, 'the key rotated on its timer');
    t.equal((await starttls(relay.port, { session: old.session })).reused, false);
  },
);
