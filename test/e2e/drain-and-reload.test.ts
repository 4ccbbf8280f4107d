// Operations on a running relay: SIGTERM's drain lets open transactions finish and refuses new work; a certificate reload serves new sessions without dropping live ones; readiness follows both.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import type { TLSSocket } from 'node:tls';
import { join } from 'node:path';
import t from 'tap';
import { startRawHop } from '../support/raw-hop.js';
import { createTestCa, type KeyPair } from '../support/pki.js';
import { startTestRelay } from '../support/relay.js';
import { settle, throughRawHop, tlsClient } from '../support/scenario.js';

const readyz = async (port: number): Promise<number> =>
  (await fetch(`http://127.0.0.1:${port}/readyz`)).status;
const peerCn = (c: { tlsSocket: TLSSocket | undefined }): unknown =>
  c.tlsSocket?.getPeerCertificate().subject.CN;

void t.test(
  'drain: the open transaction completes, new MAIL gets 421 4.3.2, new connections are refused',
  async (t) => {
    const { hop, relay, c } = await throughRawHop(t, (port) => ({
      routes: [{ domains: ['*'], nextHop: `127.0.0.1:${port}` }],
    }));
    t.equal(await c.send('MAIL FROM:<a@origin.test>'), '250 Accepted');
    t.equal(await c.send('RCPT TO:<b@dest.test>'), '250 Accepted');
    t.equal(await readyz(relay.metricsPort), 200);

    const drained = relay.relay.drain(10_000);
    await settle(50);
    t.equal(await readyz(relay.metricsPort), 503, 'not ready while draining');
    const refused = await new Promise<string>((resolve) => {
      const s = connect(relay.port, '127.0.0.1');
      s.on('connect', () => resolve('connected'));
      s.on('error', (e: Error & { code?: string }) => resolve(e.code ?? 'error'));
    });
    t.equal(refused, 'ECONNREFUSED', 'no new connections');
    t.equal(await c.send('DATA'), '354 End data with <CR><LF>.<CR><LF>');
    t.equal(
      await c.send('Subject: x\r\n\r\nbody\r\n.'),
      '250 2.0.0 Ok: queued',
      'the transaction in flight finishes',
    );
    t.equal(
      await c.send('MAIL FROM:<a@origin.test>'),
      '421 4.3.2 Relay shutting down, try again later',
    );
    await c.waitClosed();
    await drained;
    t.equal(hop.bodies.length, 1);
  },
);

void t.test(
  'reload: new handshakes get the new certificate, live sessions go on, a bad pair is refused',
  async (t) => {
    const ca = await createTestCa();
    const dir = await mkdtemp(join(tmpdir(), 'certs-'));
    const certPath = join(dir, 'cert.pem');
    const keyPath = join(dir, 'key.pem');
    const write = async (pair: KeyPair): Promise<void> => {
      await writeFile(keyPath, pair.key);
      await writeFile(certPath, pair.cert);
    };
    await write(await ca.issue(['first.test']));
    const hop = await startRawHop();
    t.teardown(() => hop.close());
    const relay = await startTestRelay(
      {
        tls: { cert: certPath, key: keyPath },
        routes: [{ domains: ['*'], nextHop: `127.0.0.1:${hop.port}` }],
      },
      { certificatePollMs: 50 },
    );
    t.teardown(() => relay.close());
    const before = await tlsClient(t, relay.port);
    t.equal(peerCn(before), 'first.test');

    await write(await ca.issue(['second.test']));
    t.equal(await relay.relay.reloadCertificate(), true);
    const after = await tlsClient(t, relay.port);
    t.equal(peerCn(after), 'second.test', 'a new session sees the new certificate');
    t.equal(await before.send('NOOP'), '250 OK', 'the live session is untouched');

    const mismatched = await ca.issue(['third.test']);
    await writeFile(certPath, mismatched.cert);
    t.equal(await relay.relay.reloadCertificate(), false, 'a key that does not match is refused');
    const still = await tlsClient(t, relay.port);
    t.equal(peerCn(still), 'second.test', 'the good certificate stays');

    await writeFile(keyPath, mismatched.key);
    let cn: unknown;
    for (let i = 0; i < 100 && cn !== 'third.test'; i++) {
      await settle(50);
      const probe = await tlsClient(t, relay.port);
      cn = peerCn(probe);
      probe.close();
    }
    t.equal(cn, 'third.test', 'the file watcher applied the completed pair');
    const metrics = await relay.metricsText();
    t.match(metrics, /starttls_relay_certificate_reloads_total\{result="success"\} [2-9]/);
    t.match(metrics, /starttls_relay_certificate_reloads_total\{result="failure"\} [1-9]/);
  },
);

void t.test('readiness fails once the served certificate has expired', async (t) => {
  const ca = await createTestCa();
  const dir = await mkdtemp(join(tmpdir(), 'certs-'));
  const pair = await ca.issue(['short.test'], { validForMs: 1500 });
  await writeFile(join(dir, 'cert.pem'), pair.cert);
  await writeFile(join(dir, 'key.pem'), pair.key);
  const relay = await startTestRelay({
    tls: { cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem') },
  });
  t.teardown(() => relay.close());
  t.equal(await readyz(relay.metricsPort), 200);
  let status = 200;
  for (let i = 0; i < 100 && status === 200; i++) {
    await settle(50);
    status = await readyz(relay.metricsPort);
  }
  t.equal(status, 503);
  t.equal(
    (await fetch(`http://127.0.0.1:${relay.metricsPort}/healthz`)).status,
    200,
    'liveness is unaffected',
  );
});
