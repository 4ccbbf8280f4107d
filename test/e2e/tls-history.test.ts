// TLS history per destination: a next hop that loses STARTTLS is counted and logged as a downgrade, enforceHistory answers 451 4.7.5 instead of sending in clear, and tls-history lists which destinations could be promoted to encrypt or verify.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { runCli } from '../support/cli.js';
import { startNextHop, type NextHopBehaviour, type TestNextHop } from '../support/next-hop.js';
import { createTestCa, generateSelfSigned, type TestCa } from '../support/pki.js';
import { startTestRelay, type TestRelay } from '../support/relay.js';
import { settle, tlsClient, transact } from '../support/scenario.js';

let ca: TestCa;
t.before(async () => {
  ca = await createTestCa();
});

async function hop(t: Test, behaviour: NextHopBehaviour): Promise<TestNextHop> {
  const h = await startNextHop(behaviour);
  t.teardown(() => h.close());
  return h;
}

async function deliver(t: Test, relay: TestRelay, to: string) {
  const c = await tlsClient(t, relay.port);
  const r = await transact(c, 'a@origin.test', [to], 'Subject: history\r\n\r\nbody');
  t.equal(await c.send('QUIT'), '221 Bye');
  await settle();
  return r;
}

/** The same port, first with STARTTLS, then (after a restart) without: a stripped next hop. */
async function strippedOnSecondVisit(
  t: Test,
  route: Record<string, unknown>,
): Promise<{ relay: TestRelay; first: TestNextHop; restart: () => Promise<TestNextHop> }> {
  const first = await startNextHop({
    tls: { kind: 'tls', pair: await generateSelfSigned(['hop.test']) },
  });
  const relay = await startTestRelay({
    routes: [{ domains: ['dest.test'], nextHop: `127.0.0.1:${first.port}`, ...route }],
    // Each delivery opens its own next-hop session: the second one meets the restarted hop.
    outbound: { connectionCache: { enabled: false } },
  });
  t.teardown(() => relay.close());
  return {
    relay,
    first,
    restart: async () => {
      await first.close();
      return hop(t, { tls: { kind: 'none' }, listen: { host: '127.0.0.1', port: first.port } });
    },
  };
}

void t.test(
  'a destination that loses STARTTLS is delivered, counted and logged as a downgrade',
  async (t) => {
    const { relay, restart } = await strippedOnSecondVisit(t, {});
    t.equal((await deliver(t, relay, 'b@dest.test')).final, '250 2.0.0 Ok: queued as Q1');
    const plain = await restart();
    t.equal((await deliver(t, relay, 'b@dest.test')).final, '250 2.0.0 Ok: queued as Q1');
    t.equal(plain.messages[0]?.tlsProtocol, null, 'report-only: the mail still went, in clear');
    t.match(
      await relay.metricsText(),
      /starttls_relay_tls_downgrades_total\{reason="not_offered"\} 1/,
    );
    const warning = relay.logs.find((l) => l.event === 'tls_downgrade');
    t.match(warning, {
      msg: 'TLS downgrade',
      destination: `[127.0.0.1]:${plain.port}`,
      before: 'encrypted',
      reached: 'none',
      reason: 'not_offered',
      enforced: false,
    });
  },
);

void t.test(
  'enforceHistory: the stripped destination gets 451 4.7.5, nothing in clear',
  async (t) => {
    const { relay, restart } = await strippedOnSecondVisit(t, { enforceHistory: true });
    t.equal((await deliver(t, relay, 'b@dest.test')).final, '250 2.0.0 Ok: queued as Q1');
    const plain = await restart();
    t.same(await deliver(t, relay, 'b@dest.test'), {
      mail: '250 Accepted',
      rcpts: ['451 4.7.5 TLS policy not met by any next hop, try again later'],
    });
    t.same(plain.mailFroms, [], 'no MAIL reached the stripped hop');
    const metrics = await relay.metricsText();
    t.match(metrics, /starttls_relay_policy_refused_recipients_total\{policy="history"\} 1/);
    t.match(metrics, /starttls_relay_tls_downgrades_total\{reason="not_offered"\} 1/);
    t.match(
      relay.logs.find((l) => l.event === 'tls_downgrade'),
      { enforced: true },
    );
  },
);

void t.test(
  'tls-history lists destinations with the strictest level their history passes',
  async (t) => {
    const verified = await hop(t, { tls: { kind: 'tls', pair: await ca.issue(['127.0.0.1']) } });
    const encrypted = await hop(t, {
      tls: { kind: 'tls', pair: await generateSelfSigned(['hop.test']) },
    });
    const plaintext = await hop(t, { tls: { kind: 'none' } });
    const stateDir = await mkdtemp(join(tmpdir(), 'history-state-'));
    t.teardown(() => rm(stateDir, { recursive: true, force: true }));
    const routes = [
      { domains: ['v.test'], nextHop: `127.0.0.1:${verified.port}` },
      { domains: ['e.test'], nextHop: `127.0.0.1:${encrypted.port}` },
      { domains: ['p.test'], nextHop: `127.0.0.1:${plaintext.port}` },
    ];
    const relay = await startTestRelay({ stateDir, routes }, { outboundCa: ca.cert });
    for (const to of ['x@v.test', 'y@v.test', 'x@e.test', 'x@p.test']) {
      t.equal((await deliver(t, relay, to)).rcpts[0], '250 Accepted', to);
    }
    await relay.close();

    const configPath = join(stateDir, 'relay.yaml');
    await writeFile(configPath, `stateDir: ${stateDir}\n`);
    const json = await runCli(['tls-history', '--config', configPath, '--json']);
    t.equal(json.code, 0, json.stderr);
    const listed = JSON.parse(json.stdout) as Array<Record<string, unknown>>;
    const byPort = (port: number) => listed.find((d) => d.destination === `[127.0.0.1]:${port}`);
    // Two messages, one session: the second one came warm from the connection cache.
    t.match(byPort(verified.port), {
      best: 'verified',
      sessions: { none: 0, encrypted: 0, verified: 1 },
      passes: 'verify',
    });
    t.match(byPort(encrypted.port), {
      best: 'encrypted',
      sessions: { none: 0, encrypted: 1, verified: 0 },
      passes: 'encrypt',
    });
    t.match(byPort(plaintext.port), {
      best: 'none',
      sessions: { none: 1, encrypted: 0, verified: 0 },
      passes: null,
    });
    t.equal(listed.length, 3);

    const text = await runCli(['tls-history', '--config', configPath]);
    t.equal(text.code, 0);
    t.match(
      text.stdout.split('\n')[0],
      /^destination\s+sessions\s+plaintext\s+encrypted\s+verified\s+best\s+last seen\s+passes$/,
    );
    t.match(
      text.stdout,
      new RegExp(
        `\\[127\\.0\\.0\\.1\\]:${verified.port}\\s+1\\s+0\\s+0\\s+1\\s+verified\\s+\\S+\\s+verify\\n`,
      ),
    );
    t.match(text.stdout, /\n1 could take tls: verify, 1 more tls: encrypt, 1 reached plaintext\n$/);
  },
);
