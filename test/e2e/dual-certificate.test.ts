// An RSA certificate served beside the ECDSA one (issue #8): ECDSA-capable clients get ECDSA, clients limited to RSA signatures get RSA over TLS 1.2 and 1.3, mail goes through both; a bad RSA pair refuses the start, and a reload bringing one keeps both current pairs.
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { connect as netConnect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import t, { type Test } from 'tap';
import { createTestCa, generateSelfSigned, type KeyPair } from '../support/pki.js';
import { startNextHop } from '../support/next-hop.js';
import { startTestRelay, type TestRelay } from '../support/relay.js';
import { settle } from '../support/scenario.js';
import { describeRun, findTool, runTool } from '../support/tools.js';
import { sClientStartTls } from '../support/s-client.js';

/** What a client limited to RSA signatures offers (RFC 8446 §4.2.3: rsa_pss_rsae_*, rsa_pkcs1_*). */
const RSA_ONLY = 'RSA-PSS+SHA256:RSA+SHA256';

/** An SMTP dialogue whose STARTTLS handshake uses `tls` (signature algorithms, versions, trust). */
interface Dialogue {
  readonly socket: TLSSocket;
  /** Sends a line (CRLF added) and returns the last line of the reply. */
  send(line: string): Promise<string>;
  close(): void;
}

async function starttlsWith(t: Test, port: number, tls: ConnectionOptions): Promise<Dialogue> {
  const plain = netConnect({ port, host: '127.0.0.1' });
  t.teardown(() => plain.destroy());
  await new Promise<void>((resolve, reject) => {
    plain.once('connect', resolve);
    plain.once('error', reject);
  });
  let lines: string[] = [];
  let buffer = '';
  let wake: (() => void) | undefined;
  const listen = (socket: Socket): void => {
    socket.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      let i: number;
      while ((i = buffer.indexOf('\r\n')) >= 0) {
        lines.push(buffer.slice(0, i));
        buffer = buffer.slice(i + 2);
      }
      wake?.();
    });
    socket.on('close', () => wake?.());
  };
  /** The last line of the next complete reply. */
  const reply = async (socket: Socket): Promise<string> => {
    for (;;) {
      const end = lines.findIndex((l) => /^\d{3}(?: |$)/.test(l));
      if (end >= 0) {
        const last = lines[end] ?? '';
        lines = lines.slice(end + 1);
        return last;
      }
      if (socket.destroyed) throw new Error(`closed; pending ${JSON.stringify(lines)}`);
      await new Promise<void>((resolve) => (wake = resolve));
    }
  };
  listen(plain);
  if (!(await reply(plain)).startsWith('220 ')) throw new Error('no greeting');
  plain.write('EHLO client.test\r\n');
  await reply(plain);
  plain.write('STARTTLS\r\n');
  const go = await reply(plain);
  if (go !== '220 Ready to start TLS') throw new Error(`STARTTLS: ${go}`);
  plain.removeAllListeners('data');
  const socket = tlsConnect({ socket: plain, servername: 'relay.test', ...tls });
  t.teardown(() => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    socket.once('secureConnect', resolve);
    socket.once('error', reject);
  });
  listen(socket);
  const send = async (line: string): Promise<string> => {
    socket.write(`${line}\r\n`);
    return reply(socket);
  };
  await send('EHLO client.test');
  return { socket, send, close: () => socket.destroy() };
}

/** The certificate the relay served on this connection: key type, size, fingerprint. */
function served(d: Dialogue): { type: string; bits: number; curve: string; fingerprint: string } {
  const peer = d.socket.getPeerCertificate();
  const x = new X509Certificate(peer.raw);
  return {
    type: x.publicKey.asymmetricKeyType ?? 'unknown',
    bits: peer.bits ?? 0,
    curve: peer.asn1Curve ?? '',
    fingerprint: x.fingerprint256,
  };
}

/** One message through the relay on this connection, every reply line as the client saw it. */
async function deliver(d: Dialogue, subject: string): Promise<string[]> {
  const replies = [
    await d.send('MAIL FROM:<a@origin.test>'),
    await d.send('RCPT TO:<b@dest.test>'),
    await d.send('DATA'),
  ];
  replies.push(await d.send(`Subject: ${subject}\r\n\r\nbody\r\n.`));
  replies.push(await d.send('QUIT'));
  return replies;
}

const delivered = (n: number): string[] => [
  '250 Accepted',
  '250 Accepted',
  '354 End data with <CR><LF>.<CR><LF>',
  `250 2.0.0 Ok: queued as Q${n}`,
  '221 Bye',
];

/** A relay routing dest.test to a real next hop (its own self-signed certificate). */
async function relayWith(
  t: Test,
  tls: Record<string, unknown>,
  overrides: { certificatePollMs?: number } = {},
): Promise<{ relay: TestRelay; hop: Awaited<ReturnType<typeof startNextHop>> }> {
  const hop = await startNextHop({
    tls: { kind: 'tls', pair: await generateSelfSigned(['hop.test']) },
  });
  t.teardown(() => hop.close());
  const relay = await startTestRelay(
    { tls, routes: [{ domains: ['dest.test'], nextHop: `127.0.0.1:${hop.port}` }] },
    overrides,
  );
  t.teardown(() => relay.close());
  return { relay, hop };
}

const RELAXED = { rejectUnauthorized: false } as const;

void t.test(
  'generated pairs with generateRsa: ECDSA for ECDSA-capable clients, RSA for RSA-only ones, mail through both',
  async (t) => {
    const { relay, hop } = await relayWith(t, { generateRsa: true });

    const modern = await starttlsWith(t, relay.port, RELAXED);
    t.equal(modern.socket.getProtocol(), 'TLSv1.3');
    t.match(
      served(modern),
      { type: 'ec', bits: 256, curve: 'prime256v1' },
      'default client: ECDSA',
    );
    t.same(await deliver(modern, 'ecdsa'), delivered(1));

    const modern12 = await starttlsWith(t, relay.port, { ...RELAXED, maxVersion: 'TLSv1.2' });
    t.equal(modern12.socket.getCipher().name, 'ECDHE-ECDSA-AES128-GCM-SHA256');
    t.match(served(modern12), { type: 'ec' }, 'TLS 1.2 default client: ECDSA');
    modern12.close();

    const old13 = await starttlsWith(t, relay.port, { ...RELAXED, sigalgs: RSA_ONLY });
    t.equal(old13.socket.getProtocol(), 'TLSv1.3');
    t.match(served(old13), { type: 'rsa', bits: 2048 }, 'RSA-only client, TLS 1.3: RSA');
    t.same(await deliver(old13, 'rsa13'), delivered(2));

    const old12 = await starttlsWith(t, relay.port, {
      ...RELAXED,
      sigalgs: RSA_ONLY,
      maxVersion: 'TLSv1.2',
    });
    t.equal(old12.socket.getProtocol(), 'TLSv1.2');
    t.equal(old12.socket.getCipher().name, 'ECDHE-RSA-AES128-GCM-SHA256', 'forward secret');
    t.match(served(old12), { type: 'rsa', bits: 2048 }, 'RSA-only client, TLS 1.2: RSA');
    t.same(await deliver(old12, 'rsa12'), delivered(3));

    t.same(
      hop.messages.map((m) => /Subject: (\w+)/.exec(m.body.toString())?.[1]),
      ['ecdsa', 'rsa13', 'rsa12'],
      'the next hop got every message',
    );
    const [ecdsa, rsa] = relay.relay.certificates;
    t.match(ecdsa, { source: 'generated', keyType: 'ecdsa', subject: 'CN=relay.test' });
    t.match(rsa, { source: 'generated', keyType: 'rsa', subject: 'CN=relay.test' });
    t.equal(
      new X509Certificate(rsa?.cert ?? '').subjectAltName,
      'DNS:relay.test',
      'the RSA certificate names the relay like the ECDSA one',
    );
    t.same(
      relay.logs.filter((l) => l.msg === 'certificate').map((l) => [l.source, l.keyType]),
      [
        ['generated', 'ecdsa'],
        ['generated', 'rsa'],
      ],
      'one log line per pair, with its key type',
    );
    const metrics = await relay.metricsText();
    t.match(
      metrics,
      /starttls_relay_certificate_expiry_timestamp_seconds\{source="generated",key_type="ecdsa"\} \d+/,
    );
    t.match(
      metrics,
      /starttls_relay_certificate_expiry_timestamp_seconds\{source="generated",key_type="rsa"\} \d+/,
    );
  },
);

void t.test('without generateRsa the RSA-only client has nothing it can verify', async (t) => {
  const { relay } = await relayWith(t, {});
  t.equal(relay.relay.certificates.length, 1);
  await t.rejects(
    starttlsWith(t, relay.port, { ...RELAXED, sigalgs: RSA_ONLY }),
    /handshake failure|no suitable signature algorithm/,
    'the ECDSA certificate alone cannot serve it: the RSA pair is what the client above got',
  );
  t.notMatch(await relay.metricsText(), /key_type="rsa"/);
});

/** A directory with an ECDSA pair from the test CA and an RSA self-signed pair, as files. */
async function configuredFiles(): Promise<{
  dir: string;
  ca: string;
  rsaCert: string;
  paths: { cert: string; key: string; rsaCert: string; rsaKey: string };
  write(ecdsa: KeyPair | undefined, rsa: KeyPair | undefined): Promise<void>;
}> {
  const ca = await createTestCa();
  const dir = await mkdtemp(join(tmpdir(), 'dual-certs-'));
  const paths = {
    cert: join(dir, 'ecdsa-cert.pem'),
    key: join(dir, 'ecdsa-key.pem'),
    rsaCert: join(dir, 'rsa-cert.pem'),
    rsaKey: join(dir, 'rsa-key.pem'),
  };
  const write = async (ecdsa: KeyPair | undefined, rsa: KeyPair | undefined): Promise<void> => {
    if (ecdsa) {
      await writeFile(paths.key, ecdsa.key);
      await writeFile(paths.cert, ecdsa.cert);
    }
    if (rsa) {
      await writeFile(paths.rsaKey, rsa.key);
      await writeFile(paths.rsaCert, rsa.cert);
    }
  };
  const rsa = await generateSelfSigned(['relay.test'], 30, 'rsa');
  await write(await ca.issue(['relay.test']), rsa);
  return { dir, ca: ca.cert, rsaCert: rsa.cert, paths, write };
}

void t.test('configured files: both pairs served and verified, mail through both', async (t) => {
  const files = await configuredFiles();
  const { relay, hop } = await relayWith(t, files.paths);

  // Real verification: each client trusts only what should serve it.
  const modern = await starttlsWith(t, relay.port, { ca: files.ca });
  t.ok(modern.socket.authorized, 'the ECDSA leaf verifies against the test CA');
  t.match(served(modern), { type: 'ec', curve: 'prime256v1' });
  t.same(await deliver(modern, 'ecdsa'), delivered(1));

  for (const maxVersion of ['TLSv1.3', 'TLSv1.2'] as const) {
    const old = await starttlsWith(t, relay.port, {
      ca: files.rsaCert,
      sigalgs: RSA_ONLY,
      maxVersion,
    });
    t.equal(old.socket.getProtocol(), maxVersion);
    t.ok(old.socket.authorized, `${maxVersion}: the RSA certificate verifies`);
    t.match(served(old), { type: 'rsa', bits: 2048 });
    t.same(
      await deliver(old, `rsa${maxVersion.slice(-1)}`),
      delivered(maxVersion === 'TLSv1.3' ? 2 : 3),
    );
  }
  t.equal(hop.messages.length, 3);
  t.same(
    relay.logs.filter((l) => l.msg === 'certificate').map((l) => [l.source, l.keyType]),
    [
      ['configured', 'ecdsa'],
      ['configured', 'rsa'],
    ],
  );
});

void t.test('a bad RSA pair refuses to start, naming the pair', async (t) => {
  const files = await configuredFiles();
  const other = await generateSelfSigned(['relay.test'], 30, 'rsa');
  await writeFile(files.paths.rsaKey, other.key);
  await t.rejects(
    startTestRelay({ tls: files.paths }),
    new Error(
      `the served certificate cannot be used: tls.rsaCert/tls.rsaKey (${files.paths.rsaCert}): the key does not match the certificate`,
    ),
  );

  // An ECDSA pair where the RSA one belongs would never reach RSA-only clients.
  await writeFile(files.paths.rsaKey, await readFile(files.paths.key, 'utf8'));
  await writeFile(files.paths.rsaCert, await readFile(files.paths.cert, 'utf8'));
  await t.rejects(
    startTestRelay({ tls: files.paths }),
    new Error(
      `the served certificate cannot be used: tls.rsaCert/tls.rsaKey (${files.paths.rsaCert}): the certificate has an ECDSA key, expected an RSA key`,
    ),
  );
});

void t.test(
  'reload: a bad RSA pair keeps both current pairs; a good pair of both replaces both',
  async (t) => {
    const files = await configuredFiles();
    // The file watcher is slowed down: this test drives reloads itself (SIGHUP's path).
    const { relay } = await relayWith(t, files.paths, { certificatePollMs: 60_000 });
    const fingerprints = async (): Promise<{ ecdsa: string; rsa: string }> => {
      const modern = await starttlsWith(t, relay.port, RELAXED);
      const old = await starttlsWith(t, relay.port, { ...RELAXED, sigalgs: RSA_ONLY });
      const result = { ecdsa: served(modern).fingerprint, rsa: served(old).fingerprint };
      t.equal(served(modern).type, 'ec');
      t.equal(served(old).type, 'rsa');
      modern.close();
      old.close();
      return result;
    };
    const before = await fingerprints();

    const ca = await createTestCa('another CA');
    const mismatched = await generateSelfSigned(['relay.test'], 30, 'rsa');
    await files.write(await ca.issue(['relay.test']), undefined);
    await writeFile(files.paths.rsaKey, mismatched.key);
    t.equal(await relay.relay.reloadCertificate(), false, 'one bad pair: the reload is refused');
    t.same(await fingerprints(), before, 'both pairs stay, the new ECDSA one too is not served');
    t.match(
      relay.logs.find((l) => l.msg === 'certificate not reloaded, the current one stays'),
      {
        error: `tls.rsaCert/tls.rsaKey (${files.paths.rsaCert}): the key does not match the certificate`,
      },
    );

    const rsa = await generateSelfSigned(['relay.test'], 30, 'rsa');
    await files.write(undefined, rsa);
    t.equal(await relay.relay.reloadCertificate(), true, 'both pairs good: applied together');
    const after = await fingerprints();
    t.not(after.ecdsa, before.ecdsa, 'the new ECDSA certificate is served');
    t.equal(after.rsa, new X509Certificate(rsa.cert).fingerprint256, 'the new RSA certificate');
    await settle();
    const metrics = await relay.metricsText();
    t.match(metrics, /starttls_relay_certificate_reloads_total\{result="failure"\} 1\n/);
    t.match(metrics, /starttls_relay_certificate_reloads_total\{result="success"\} 1\n/);
    t.match(
      metrics,
      /starttls_relay_certificate_expiry_timestamp_seconds\{source="configured",key_type="rsa"\} \d+/,
    );
  },
);

void t.test('readiness ends at the earliest expiry: the RSA pair expiring first', async (t) => {
  const files = await configuredFiles();
  // 1.5 s of validity for the RSA pair; the ECDSA one is good for a day.
  await files.write(undefined, await generateSelfSigned(['relay.test'], 1.5 / 86_400, 'rsa'));
  const { relay } = await relayWith(t, files.paths);
  const readyz = async (): Promise<number> =>
    (await fetch(`http://127.0.0.1:${relay.metricsPort}/readyz`)).status;
  t.equal(await readyz(), 200);
  let status = 200;
  for (let i = 0; i < 100 && status === 200; i++) {
    await settle(50);
    status = await readyz();
  }
  t.equal(status, 503, 'not ready once some clients would get an expired certificate');
});

const openssl = findTool('openssl');
void t.test(
  'interop: openssl s_client limited to RSA signatures gets the RSA certificate',
  { skip: openssl === undefined ? 'needs Debian package openssl (no openssl)' : false },
  async (t) => {
    if (openssl === undefined) return;
    const { relay } = await relayWith(t, { generateRsa: true });
    const cases = [
      { args: ['-tls1_3', '-sigalgs', RSA_ONLY], signature: 'RSA-PSS', protocol: 'TLSv1.3' },
      { args: ['-tls1_2', '-sigalgs', RSA_ONLY], signature: 'RSA-PSS', protocol: 'TLSv1.2' },
      {
        args: ['-tls1_2', '-cipher', 'ECDHE-RSA-AES128-GCM-SHA256'],
        signature: 'RSA-PSS',
        protocol: 'TLSv1.2',
      },
      { args: ['-tls1_3'], signature: 'ECDSA', protocol: 'TLSv1.3' },
      // Both suites offered: the relay's order (ECDSA first) decides.
      {
        args: ['-tls1_2', '-cipher', 'ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES128-GCM-SHA256'],
        signature: 'ECDSA',
        protocol: 'TLSv1.2',
      },
    ];
    for (const c of cases) {
      const argv = sClientStartTls(relay.port, c.args);
      const run = await runTool(openssl, argv, { timeoutMs: 15_000 });
      const output = `${run.stdout}\n${run.stderr}`;
      const name = c.args.join(' ');
      t.match(output, /^CONNECTION ESTABLISHED$/m, `${name}: handshake`, {
        run: describeRun(openssl, argv, run),
      });
      t.match(output, new RegExp(`^Protocol version: ${c.protocol}$`, 'm'), name);
      t.match(
        output,
        new RegExp(`^Signature type: ${c.signature}$`, 'm'),
        `${name}: ${c.signature}`,
      );
      t.match(output, /^Peer certificate: CN = relay\.test$/m);
    }
  },
);
