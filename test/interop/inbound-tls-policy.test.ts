// openssl s_client against the relay's STARTTLS: TLS 1.3 and the six ECDHE AEAD TLS 1.2 suites only, server order, older protocols and every other suite refused.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { startTestRelay, type TestRelay } from '../support/relay.js';
import { describeRun, requireTool, runTool, type ToolRun } from '../support/tools.js';
import { sClientStartTls } from '../support/s-client.js';

/** DESIGN invariant 3: the TLS 1.2 suites with forward secrecy and AEAD, and nothing else. */
const SIX_SUITES = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
];

const openssl = requireTool(t, 'openssl', 'openssl');

interface Handshake {
  readonly run: ToolRun;
  readonly describe: string;
  /** The negotiated protocol and suite, when the handshake completed. */
  readonly protocol: string | undefined;
  readonly cipher: string | undefined;
  /** Both streams: s_client's -brief summary and its errors go to stderr. */
  readonly output: string;
}

/**
 * One STARTTLS handshake by `openssl s_client` (EHLO client.test), stdin closed so it leaves at
 * once, killed after 15 s at most.
 */
async function handshake(port: number, args: readonly string[]): Promise<Handshake> {
  if (openssl === undefined) throw new Error('unreachable: openssl checked above');
  const argv = sClientStartTls(port, args);
  const run = await runTool(openssl, argv, { timeoutMs: 15_000 });
  const output = `${run.stdout}\n${run.stderr}`;
  const established = /^CONNECTION ESTABLISHED$/m.test(output);
  return {
    run,
    describe: describeRun(openssl, argv, run),
    protocol: established ? /^Protocol version: (\S+)$/m.exec(output)?.[1] : undefined,
    cipher: established ? /^Ciphersuite: (\S+)$/m.exec(output)?.[1] : undefined,
    output,
  };
}

/** The relay's own alert, read by the client: proof the client offered and the server refused. */
const PROTOCOL_VERSION_ALERT = /:tlsv1 alert protocol version:.*SSL alert number 70$/m;
const HANDSHAKE_FAILURE_ALERT = /:sslv3 alert handshake failure:.*SSL alert number 40$/m;

/** `@SECLEVEL=0`: OpenSSL 3 offers legacy protocols and suites only at security level 0. */
const LEGACY = '@SECLEVEL=0';

async function relayWith(
  t: { teardown(fn: () => unknown): void },
  document: Record<string, unknown> = {},
): Promise<TestRelay> {
  const relay = await startTestRelay({
    routes: [{ domains: ['dest.test'], nextHop: '127.0.0.1:9', tls: 'may' }],
    ...document,
  });
  t.teardown(() => relay.close());
  return relay;
}

/** Runs `fn` over `items` with at most `limit` at a time, keeping the order of the results. */
async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next;
      next += 1;
      results[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

if (openssl !== undefined) {
  void t.test('TLS 1.3 is negotiated, with the server choosing the suite', async (t) => {
    const relay = await relayWith(t);
    const h = await handshake(relay.port, ['-tls1_3']);
    t.equal(h.run.code, 0, 'handshake completed', { output: h.describe });
    t.equal(h.protocol, 'TLSv1.3');
    // OpenSSL's client lists TLS_AES_256_GCM_SHA384 first; the relay's order puts AES-128 first.
    t.equal(h.cipher, 'TLS_AES_128_GCM_SHA256', 'server cipher order');
    t.match(h.output, /^Peer certificate: CN = relay\.test$/m, "the relay's generated certificate");
    t.match(h.output, /^Signature type: ECDSA$/m);
  });

  void t.test('TLS 1.2 with an ECDHE AEAD suite is accepted, in server order', async (t) => {
    const relay = await relayWith(t);
    const h = await handshake(relay.port, [
      '-tls1_2',
      '-cipher',
      'ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES128-GCM-SHA256',
    ]);
    t.equal(h.run.code, 0, 'handshake completed', { output: h.describe });
    t.equal(h.protocol, 'TLSv1.2');
    t.equal(
      h.cipher,
      'ECDHE-ECDSA-AES128-GCM-SHA256',
      'the ECDSA suite, for the ECDSA certificate',
    );

    const ordered = await handshake(relay.port, [
      '-tls1_2',
      '-cipher',
      'ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256',
    ]);
    t.equal(ordered.run.code, 0, 'handshake completed', { output: ordered.describe });
    t.equal(
      ordered.cipher,
      'ECDHE-ECDSA-AES128-GCM-SHA256',
      "the relay's first choice, not the client's",
    );
  });

  void t.test('older protocols and non-forward-secret or CBC suites are refused', async (t) => {
    const relay = await relayWith(t);
    const refusals: Array<{ name: string; args: string[]; alert: RegExp }> = [
      {
        name: 'TLS 1.1',
        args: ['-tls1_1', '-cipher', `DEFAULT:${LEGACY}`],
        alert: PROTOCOL_VERSION_ALERT,
      },
      {
        name: 'TLS 1.0',
        args: ['-tls1', '-cipher', `DEFAULT:${LEGACY}`],
        alert: PROTOCOL_VERSION_ALERT,
      },
      {
        name: 'TLS 1.2, RSA key exchange (no forward secrecy)',
        args: ['-tls1_2', '-cipher', `AES128-GCM-SHA256:${LEGACY}`],
        alert: HANDSHAKE_FAILURE_ALERT,
      },
      {
        name: 'TLS 1.2, ECDHE with CBC',
        args: ['-tls1_2', '-cipher', `ECDHE-ECDSA-AES128-SHA:${LEGACY}`],
        alert: HANDSHAKE_FAILURE_ALERT,
      },
    ];
    for (const refusal of refusals) {
      const h = await handshake(relay.port, refusal.args);
      t.not(h.run.code, 0, `${refusal.name}: s_client fails`, { output: h.describe });
      t.equal(h.protocol, undefined, `${refusal.name}: no session`);
      t.match(h.output, refusal.alert, `${refusal.name}: refused by the relay's alert`, {
        output: h.describe,
      });
    }
    // The relay is unharmed and counted each refusal.
    const after = await handshake(relay.port, ['-tls1_3']);
    t.equal(after.protocol, 'TLSv1.3', 'a modern client still gets in');
    // The census says why: old protocol versions, and suites without forward secrecy or AEAD.
    const metrics = await relay.metricsText();
    t.match(
      metrics,
      /^starttls_relay_inbound_tls_handshake_failures_total\{listener="mta",reason="protocol_version"\} 2$/m,
    );
    t.match(
      metrics,
      /^starttls_relay_inbound_tls_handshake_failures_total\{listener="mta",reason="no_shared_cipher"\} 2$/m,
    );
    t.match(
      metrics,
      /^starttls_relay_inbound_tls_handshakes_total\{listener="mta",tls_version="TLSv1.3",forward_secrecy="true"\} \d+$/m,
    );
  });

  void t.test('of every TLS 1.2 suite OpenSSL knows, exactly the six are accepted', async (t) => {
    // Every suite this OpenSSL can offer in TLS 1.2, legacy and anonymous ones included.
    const list = await runTool(openssl, [
      'ciphers',
      '-s',
      '-tls1_2',
      `ALL:COMPLEMENTOFALL:${LEGACY}`,
    ]);
    t.equal(list.code, 0, 'openssl ciphers', { output: describeRun(openssl, ['ciphers'], list) });
    const suites = list.stdout.trim().split(':');
    t.ok(suites.length > 50, `${suites.length} suites to try`);
    t.same(
      SIX_SUITES.filter((s) => !suites.includes(s)),
      [],
      'the six are among them',
    );

    // The generated certificate is ECDSA: RSA suites cannot authenticate with it. A second relay
    // with an RSA certificate (made by `openssl req`) shows the ECDHE-RSA half.
    const dir = await mkdtemp(join(tmpdir(), 'relay-rsa-'));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    const reqArgs = [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
      '-subj',
      '/CN=relay.test',
      '-days',
      '1',
    ];
    const made = await runTool(openssl, reqArgs, { timeoutMs: 60_000 });
    t.equal(made.code, 0, 'RSA certificate made', { output: describeRun(openssl, reqArgs, made) });
    const relays = {
      ECDSA: await relayWith(t),
      RSA: await relayWith(t, { tls: { cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem') } }),
    };

    // Both relays at once, a few handshakes at a time on each.
    const tried = await Promise.all(
      Object.entries(relays).map(async ([kind, relay]) => ({
        kind,
        results: await mapLimit(suites, 6, async (suite) => ({
          suite,
          h: await handshake(relay.port, ['-tls1_2', '-cipher', `${suite}:${LEGACY}`]),
        })),
      })),
    );
    const accepted = new Set<string>();
    for (const { kind, results } of tried) {
      const ok = results.filter((r) => r.h.protocol !== undefined);
      for (const r of ok) {
        accepted.add(r.suite);
        t.equal(r.h.protocol, 'TLSv1.2', `${kind}: ${r.suite} negotiated as TLS 1.2`);
        t.equal(r.h.cipher, r.suite, `${kind}: ${r.suite} is the suite in use`);
      }
      t.same(
        ok.map((r) => r.suite).sort(),
        SIX_SUITES.filter((s) => s.includes(`-${kind}-`)).sort(),
        `${kind} certificate: only the three ECDHE-${kind} AEAD suites`,
      );
      // Each refusal is the relay's handshake_failure alert, never the client giving up alone.
      const notRefusedByRelay = results
        .filter((r) => r.h.protocol === undefined && !HANDSHAKE_FAILURE_ALERT.test(r.h.output))
        .map((r) => `${r.suite}: ${r.h.output}`);
      t.same(notRefusedByRelay, [], `${kind}: every other suite refused by the relay`);
    }
    t.same([...accepted].sort(), [...SIX_SUITES].sort(), 'the six, and only the six');
  });
}
