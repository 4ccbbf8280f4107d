// The TLS policy: exactly the six forward-secret AEAD suites for TLS 1.2, TLS 1.3 on, TLS 1.2 minimum, checked against a live server.
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { connect, createServer } from 'node:tls';
import t from 'tap';
import { meets } from '../../../src/tls/level.js';
import { CIPHERS, serverTlsOptions, TLS12_SUITES } from '../../../src/tls/policy.js';
import { createTestCa } from '../../support/pki.js';

void t.test('the six suites, nothing else', (t) => {
  t.same([...TLS12_SUITES].sort(), [
    'ECDHE-ECDSA-AES128-GCM-SHA256',
    'ECDHE-ECDSA-AES256-GCM-SHA384',
    'ECDHE-ECDSA-CHACHA20-POLY1305',
    'ECDHE-RSA-AES128-GCM-SHA256',
    'ECDHE-RSA-AES256-GCM-SHA384',
    'ECDHE-RSA-CHACHA20-POLY1305',
  ]);
  t.notMatch(CIPHERS, /CBC|SHA1\b|RC4|3DES|NULL|EXPORT|(^|:)(DHE|AES|CAMELLIA|ARIA)/);
  t.end();
});

void t.test(
  'a server under the policy refuses TLS 1.1 and non-forward-secret suites',
  async (t) => {
    const ca = await createTestCa();
    const pair = await ca.issue(['127.0.0.1']);
    const server = createServer(serverTlsOptions('TLSv1.2', pair), (s) => s.end());
    server.on('tlsClientError', () => undefined);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    t.teardown(() => server.close());
    const port = (server.address() as AddressInfo).port;
    const attempt = (opts: Record<string, unknown>) =>
      new Promise<string>((resolve) => {
        const s = connect({ port, host: '127.0.0.1', rejectUnauthorized: false, ...opts }, () => {
          resolve(`${s.getProtocol()} ${s.getCipher().name}`);
          s.destroy();
        });
        s.on('error', (e: Error & { code?: string }) => resolve(`refused ${e.code ?? e.message}`));
      });
    t.match(await attempt({}), /^TLSv1\.3 TLS_/);
    t.equal(
      await attempt({ maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-CHACHA20-POLY1305' }),
      'TLSv1.2 ECDHE-ECDSA-CHACHA20-POLY1305',
    );
    t.match(
      await attempt({ maxVersion: 'TLSv1.2', ciphers: 'AES128-GCM-SHA256' }),
      /^refused /,
      'RSA key exchange: no forward secrecy',
    );
    t.match(
      await attempt({ maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-SHA' }),
      /^refused /,
      'CBC suite',
    );
    t.match(
      await attempt({
        minVersion: 'TLSv1.1',
        maxVersion: 'TLSv1.1',
        ciphers: 'DEFAULT@SECLEVEL=0',
      }),
      /^refused /,
      'TLS 1.1',
    );
    t.match(
      await attempt({
        maxVersion: 'TLSv1.2',
        ciphers: 'ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-GCM-SHA256',
        honorCipherOrder: false,
      }),
      /^TLSv1\.2 ECDHE-ECDSA-AES128-GCM-SHA256$/,
      'the server order wins',
    );
  },
);

void t.test('the TLS ladder', (t) => {
  t.ok(meets('verified', 'encrypted'));
  t.ok(meets('encrypted', 'none'));
  t.notOk(meets('none', 'encrypted'));
  t.notOk(meets('encrypted', 'verified'));
  t.end();
});
