// The generated certificate: made on first start into stateDir (key 0600), reused after, renewed for another hostname.
import { X509Certificate } from 'node:crypto';
import { mkdtemp, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { generatedCredentials } from '../../../src/tls/certificate.js';

void t.test('generated once, then reused, renewed when the hostname changes', async (t) => {
  const dir = join(await mkdtemp(join(tmpdir(), 'state-')), 'nested');
  const first = await generatedCredentials(dir, 'relay.example');
  t.equal(first.source, 'generated');
  const x = new X509Certificate(first.cert);
  t.equal(x.subject, 'CN=relay.example');
  t.equal(x.subjectAltName, 'DNS:relay.example');
  t.equal(x.publicKey.asymmetricKeyType, 'ec', 'ECDSA: cheap handshakes');
  t.ok(
    x.checkPrivateKey(await import('node:crypto').then((c) => c.createPrivateKey(first.key))),
    'key matches',
  );
  t.ok(new Date(x.validTo).getTime() > Date.now() + 300 * 86_400_000, 'valid for about a year');
  t.equal(
    (await stat(join(dir, 'self-signed-key.pem'))).mode & 0o777,
    0o600,
    'private key readable by the owner only',
  );

  const again = await generatedCredentials(dir, 'relay.example');
  t.equal(again.source, 'reused');
  t.equal(again.cert, first.cert);

  const renamed = await generatedCredentials(dir, 'other.example');
  t.equal(renamed.source, 'generated');
  t.not(renamed.cert, first.cert);
});
