// Route TLS levels against a real Postfix next hop: verify with the route's own CA delivers (and Postfix logs the TLS); verify against a foreign CA and encrypt to a Postfix without STARTTLS get 451 4.7.5 and Postfix sees no MAIL.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { createTestCa } from '../support/pki.js';
import { startPostfix } from '../support/postfix.js';
import { startTestRelay } from '../support/relay.js';
import { settle, tlsClient, transact } from '../support/scenario.js';
import { requireRoot, requireTools } from '../support/tools.js';

const tools = requireTools(t, [['postfix', 'postfix']]);
const POLICY_UNMET = '451 4.7.5 TLS policy not met by any next hop, try again later';

if (tools && requireRoot(t, 'a private Postfix instance is started with `postfix start`')) {
  let dir: string;
  t.before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'postfix-policy-'));
  });
  t.teardown(() => rm(dir, { recursive: true, force: true }));

  async function routeTo(t: Test, port: number, route: object) {
    const relay = await startTestRelay({
      routes: [{ domains: ['dest.test'], nextHop: `127.0.0.1:${port}`, ...route }],
    });
    t.teardown(() => relay.close());
    const c = await tlsClient(t, relay.port);
    return { relay, c };
  }

  void t.test('verify with the route CA: delivered, Postfix saw TLS from the relay', async (t) => {
    const ca = await createTestCa();
    const caFile = join(dir, 'postfix-ca.pem');
    await writeFile(caFile, ca.cert);
    const postfix = await startPostfix(t, { tls: await ca.issue(['127.0.0.1']) });
    const { relay, c } = await routeTo(t, postfix.port, { tls: 'verify', ca: caFile });
    const r = await transact(
      c,
      'a@origin.test',
      ['alice@dest.test'],
      'Subject: verified\r\n\r\nbody',
    );
    t.same(r.rcpts, ['250 Accepted']);
    t.match(r.final, /^250 2\.0\.0 Ok: queued as [0-9A-F]+$/);
    const [message] = await postfix.waitForMessages(1);
    t.equal(message?.deliveredTo, 'alice@dest.test');
    t.equal(await c.send('QUIT'), '221 Bye');
    await settle();
    t.match(relay.transactions()[0], {
      outboundTls: { starttls: 'encrypted', verified: true },
      outboundPolicy: { required: 'verified' },
    });
    t.match(
      (await postfix.waitForLog(/Anonymous TLS connection established from/, 1))[0],
      /TLSv1\.3/,
    );
  });

  void t.test('verify against a foreign CA: 451 4.7.5, Postfix never gets a MAIL', async (t) => {
    const ca = await createTestCa();
    const other = await createTestCa('another CA');
    const caFile = join(dir, 'other-ca.pem');
    await writeFile(caFile, other.cert);
    const postfix = await startPostfix(t, { tls: await ca.issue(['127.0.0.1']) });
    const { c } = await routeTo(t, postfix.port, { tls: 'verify', ca: caFile });
    t.same(await transact(c, 'a@origin.test', ['alice@dest.test'], 'x'), {
      mail: '250 Accepted',
      rcpts: [POLICY_UNMET],
    });
    t.equal(await c.send('QUIT'), '221 Bye');
    const [session] = await postfix.waitForLog(/disconnect from .* ehlo=/, 1);
    t.match(
      session,
      / ehlo=2 starttls=1 quit=1 commands=4$/,
      'EHLO, STARTTLS, EHLO, QUIT: no MAIL',
    );
    t.same(await postfix.messages(), []);
  });

  void t.test(
    'encrypt to a Postfix without STARTTLS: 451 4.7.5, nothing sent in clear',
    async (t) => {
      const postfix = await startPostfix(t, {});
      const { c } = await routeTo(t, postfix.port, { tls: 'encrypt' });
      t.same(await transact(c, 'a@origin.test', ['alice@dest.test'], 'x'), {
        mail: '250 Accepted',
        rcpts: [POLICY_UNMET],
      });
      t.equal(await c.send('QUIT'), '221 Bye');
      // The relay's session (the helper's readiness probe only says QUIT): EHLO, then QUIT.
      const [session] = await postfix.waitForLog(/disconnect from .* ehlo=/, 1);
      t.match(session, / ehlo=1 quit=1 commands=2$/, 'EHLO and QUIT only: no MAIL, no RCPT');
      t.same(await postfix.messages(), []);
    },
  );
}
