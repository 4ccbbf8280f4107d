// Inbound TLS session resumption: a client that kept its session resumes it over STARTTLS (TLS 1.3 and 1.2), and once the ticket key has rotated the old session no longer resumes.
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { rotateTicketKeys, ticketKeyRotation } from '../../src/tls/session-tickets.js';
import { startTestRelay, type TestRelay } from '../support/relay.js';
import { EHLO_AFTER_TLS } from '../support/ehlo.js';
import { starttls } from '../support/starttls-session.js';

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
