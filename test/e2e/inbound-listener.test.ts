// The mta listener: STARTTLS offered, AUTH neither advertised nor accepted before or after TLS, STARTTLS injection discarded, sessions counted by TLS.
import t from 'tap';
import { startTestRelay } from '../support/relay.js';
import { settle } from '../support/scenario.js';
import { SmtpDialogue } from '../support/smtp-client.js';
import { EHLO_AFTER_TLS, EHLO_BEFORE_TLS } from '../support/ehlo.js';

void t.test('EHLO before and after TLS, and AUTH refused on both', async (t) => {
  const relay = await startTestRelay({});
  t.teardown(() => relay.close());
  const c = await SmtpDialogue.connect(relay.port);
  t.teardown(() => c.close());
  t.equal(await c.line(), '220 relay.test ESMTP starttls-relay');
  c.write('EHLO client.test\r\n');
  t.same(await c.reply(), EHLO_BEFORE_TLS);
  t.equal(
    await c.send('AUTH PLAIN AGFsaWNlAHNlY3JldA=='),
    '500 5.5.2 Error: command not recognized',
  );
  const ehlo = await c.startTls();
  t.same(ehlo, EHLO_AFTER_TLS);
  t.equal(
    await c.send('AUTH PLAIN AGFsaWNlAHNlY3JldA=='),
    '500 5.5.2 Error: command not recognized',
  );
  t.equal(await c.send('QUIT'), '221 Bye');
  await settle();
  t.match(
    await relay.metricsText(),
    /starttls_relay_inbound_sessions_total\{listener="mta",tls_version="TLSv1.3"\} 1/,
  );
});

void t.test(
  'commands pipelined behind STARTTLS are discarded, never executed (CVE-2011-0411)',
  async (t) => {
    const relay = await startTestRelay({});
    t.teardown(() => relay.close());
    const c = await SmtpDialogue.connect(relay.port);
    t.teardown(() => c.close());
    await c.line();
    await c.send('EHLO client.test');
    c.write('STARTTLS\r\nRSET\r\nMAIL FROM:<injected@evil.test>\r\n');
    t.equal(await c.line(), '220 Ready to start TLS');
    // Upgrade by hand: the injected lines must not be answered, in clear or under TLS.
    const secure = await c.upgradeRaw();
    t.teardown(() => secure.close());
    t.equal(await secure.send('RCPT TO:<b@dest.test>'), '503 Error: send HELO/EHLO first');
    t.equal(await secure.send('EHLO client.test'), '250 SIZE 52428800');
    t.equal(await secure.send('RCPT TO:<b@dest.test>'), '503 Error: need MAIL command');
  },
);

void t.test('a plaintext session is counted as tls_version none', async (t) => {
  const relay = await startTestRelay({});
  t.teardown(() => relay.close());
  const c = await SmtpDialogue.connect(relay.port);
  await c.line();
  t.equal(await c.send('HELO client.test'), '250 relay.test Nice to meet you, [127.0.0.1]');
  t.equal(await c.send('QUIT'), '221 Bye');
  c.close();
  await settle();
  t.match(
    await relay.metricsText(),
    /starttls_relay_inbound_sessions_total\{listener="mta",tls_version="none"\} 1/,
  );
});
