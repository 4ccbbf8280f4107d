// Concurrent session limits: one address cannot take every slot, the relay as a whole has a ceiling; both answer 421 4.7.0 at connect and give the slot back on close.
import t from 'tap';
import { startTestRelay } from '../support/relay.js';
import { settle } from '../support/scenario.js';
import { SmtpDialogue } from '../support/smtp-client.js';

void t.test('421 4.7.0 past the per-address and the global limit', async (t) => {
  const relay = await startTestRelay({ limits: { maxSessions: 3, maxSessionsPerAddress: 2 } });
  t.teardown(() => relay.close());
  const open = async (from: string): Promise<{ c: SmtpDialogue; greeting: string }> => {
    const c = await SmtpDialogue.connect(relay.port, '127.0.0.1', from);
    t.teardown(() => c.close());
    return { c, greeting: await c.line() };
  };
  const a1 = await open('127.0.0.1');
  const a2 = await open('127.0.0.1');
  t.equal(a1.greeting, '220 relay.test ESMTP starttls-relay');
  t.equal(a2.greeting, '220 relay.test ESMTP starttls-relay');
  const a3 = await open('127.0.0.1');
  t.equal(a3.greeting, '421 4.7.0 Too many sessions from your address, try again later');
  await a3.c.waitClosed();
  const b1 = await open('127.0.0.2');
  t.equal(b1.greeting, '220 relay.test ESMTP starttls-relay', 'another address still gets in');
  const c1 = await open('127.0.0.3');
  t.equal(c1.greeting, '421 4.7.0 Too many sessions, try again later');
  t.equal(await a1.c.send('QUIT'), '221 Bye');
  await a1.c.waitClosed();
  await settle(50);
  const a4 = await open('127.0.0.1');
  t.equal(a4.greeting, '220 relay.test ESMTP starttls-relay', 'the slot came back');
  const metrics = await relay.metricsText();
  t.match(
    metrics,
    /starttls_relay_inbound_sessions_refused_total\{listener="mta",reason="address_limit"\} 1/,
  );
  t.match(
    metrics,
    /starttls_relay_inbound_sessions_refused_total\{listener="mta",reason="global_limit"\} 1/,
  );
  t.match(metrics, /starttls_relay_inbound_active_sessions\{listener="mta"\} 3/);
});
