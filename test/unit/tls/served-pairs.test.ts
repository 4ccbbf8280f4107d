// The served pairs: which the tls section asks for (and the config errors that refuse the rest), the generated RSA pair made, reused and remade, and the checks that name a bad pair.
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { validateConfig } from '../../../src/config/load.js';
import {
  earliestExpiry,
  generatedCredentials,
  pairSources,
  type Credentials,
} from '../../../src/tls/certificate.js';
import { unusablePairs } from '../../../src/tls/reloader.js';
import { createTestCa, generateSelfSigned } from '../../support/pki.js';

const errorsOf = (tls: unknown): readonly string[] => {
  const r = validateConfig({ tls }, '/etc/starttls-relay');
  return r.ok ? [] : r.errors;
};

void t.test('config: the RSA keys go together, beside the pair they complement', (t) => {
  t.same(errorsOf({ cert: '/c.pem', key: '/k.pem', rsaCert: '/r.pem' }), [
    'tls: rsaCert and rsaKey go together: give both, or neither',
  ]);
  t.same(errorsOf({ rsaCert: '/r.pem', rsaKey: '/rk.pem' }), [
    'tls: rsaCert and rsaKey are served beside cert and key: configure those too, or use generateRsa with the generated certificate',
  ]);
  t.same(errorsOf({ cert: '/c.pem', key: '/k.pem', generateRsa: true }), [
    'tls: generateRsa applies to the generated certificate only: with cert and key configured, give rsaCert and rsaKey',
  ]);
  t.same(errorsOf({ generateRsa: 'yes' }), [
    'tls.generateRsa: Invalid input: expected boolean, received string',
  ]);
  t.same(errorsOf({ cert: '/c.pem', key: '/k.pem', rsaCert: '/r.pem', rsaKey: '/rk.pem' }), []);
  const r = validateConfig({}, '/etc/starttls-relay');
  t.equal(r.ok && r.config.tls.generateRsa, false, 'by default the ECDSA certificate alone');
  t.end();
});

void t.test('pairSources: ECDSA first, RSA beside it when asked', (t) => {
  const base = { minVersion: 'TLSv1.2', generateRsa: false } as const;
  t.match(pairSources(base, '/s', 'relay.example'), [
    {
      kind: 'generated',
      keyType: 'ecdsa',
      name: 'generated ECDSA certificate (/s/self-signed-cert.pem)',
    },
  ]);
  t.match(pairSources({ ...base, generateRsa: true }, '/s', 'relay.example'), [
    { kind: 'generated', keyType: 'ecdsa' },
    {
      kind: 'generated',
      keyType: 'rsa',
      name: 'generated RSA certificate (/s/self-signed-rsa-cert.pem)',
    },
  ]);
  const files = pairSources(
    { ...base, cert: '/c.pem', key: '/k.pem', rsaCert: '/r.pem', rsaKey: '/rk.pem' },
    '/s',
    'relay.example',
  );
  t.same(files, [
    { kind: 'files', name: 'tls.cert/tls.key (/c.pem)', cert: '/c.pem', key: '/k.pem' },
    {
      kind: 'files',
      name: 'tls.rsaCert/tls.rsaKey (/r.pem)',
      cert: '/r.pem',
      key: '/rk.pem',
      keyType: 'rsa',
    },
  ]);
  t.end();
});

void t.test(
  'the generated RSA pair: made beside the ECDSA one, reused, remade when broken',
  async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'state-'));
    const ecdsa = await generatedCredentials(dir, 'relay.example');
    const rsa = await generatedCredentials(dir, 'relay.example', 'rsa');
    t.match(rsa, { source: 'generated', keyType: 'rsa', subject: 'CN=relay.example' });
    const x = new X509Certificate(rsa.cert);
    t.equal(x.publicKey.asymmetricKeyType, 'rsa');
    t.equal(x.publicKey.asymmetricKeyDetails?.modulusLength, 2048);
    t.equal(x.subjectAltName, 'DNS:relay.example');
    t.ok(x.checkPrivateKey(createPrivateKey(rsa.key)), 'key matches');
    t.ok(x.verify(x.publicKey), 'self-signed');
    t.ok(new Date(x.validTo).getTime() > Date.now() + 300 * 86_400_000, 'valid for about a year');
    t.equal((await stat(join(dir, 'self-signed-rsa-key.pem'))).mode & 0o777, 0o600);
    t.equal(await readFile(join(dir, 'self-signed-rsa-cert.pem'), 'utf8'), rsa.cert);
    t.equal(
      await readFile(join(dir, 'self-signed-cert.pem'), 'utf8'),
      ecdsa.cert,
      'ECDSA untouched',
    );

    const again = await generatedCredentials(dir, 'relay.example', 'rsa');
    t.match(again, { source: 'reused', cert: rsa.cert });

    // A crash between the two renames leaves a new key beside the old certificate: remade, not
    // reused and refused at every start after.
    await writeFile(
      join(dir, 'self-signed-rsa-key.pem'),
      (await generateSelfSigned(['x'], 1, 'rsa')).key,
    );
    const remade = await generatedCredentials(dir, 'relay.example', 'rsa');
    t.equal(remade.source, 'generated');
    t.not(remade.cert, rsa.cert);

    // An ECDSA pair in the RSA files is not reused as the RSA one.
    await writeFile(join(dir, 'self-signed-rsa-key.pem'), ecdsa.key);
    await writeFile(join(dir, 'self-signed-rsa-cert.pem'), ecdsa.cert);
    const fixed = await generatedCredentials(dir, 'relay.example', 'rsa');
    t.match(fixed, { source: 'generated', keyType: 'rsa' });
  },
);

void t.test('unusablePairs names the bad pair; one pair per key type', async (t) => {
  const ca = await createTestCa();
  const pair = async (keyType: 'ecdsa' | 'rsa', days = 30): Promise<Credentials> => {
    const made =
      keyType === 'ecdsa'
        ? await ca.issue(['a.test'])
        : await generateSelfSigned(['a.test'], days, 'rsa');
    const x = new X509Certificate(made.cert);
    return {
      ...made,
      source: 'configured',
      keyType,
      subject: x.subject,
      notAfter: new Date(x.validTo),
    };
  };
  const sources = pairSources(
    {
      minVersion: 'TLSv1.2',
      generateRsa: false,
      cert: '/c',
      key: '/k',
      rsaCert: '/r',
      rsaKey: '/rk',
    },
    '/s',
    'a.test',
  );
  const ecdsa = await pair('ecdsa');
  const rsa = await pair('rsa', 2);
  t.equal(unusablePairs(sources, [ecdsa, rsa]), undefined);
  t.equal(
    unusablePairs(sources, [ecdsa, { ...rsa, key: ecdsa.key }]),
    'tls.rsaCert/tls.rsaKey (/r): the key does not match the certificate',
  );
  t.equal(
    unusablePairs(sources, [ecdsa, ecdsa]),
    'tls.rsaCert/tls.rsaKey (/r): the certificate has an ECDSA key, expected an RSA key',
  );
  t.equal(
    unusablePairs(sources, [rsa, rsa]),
    'tls.rsaCert/tls.rsaKey (/r): an RSA key like tls.cert/tls.key (/c); only one pair per key type can be served',
  );
  t.match(
    unusablePairs(sources, [ecdsa, rsa], Date.now() + 3 * 86_400_000),
    /^tls\.cert\/tls\.key \(\/c\): the certificate expired on /,
  );
  // The CA's leaf lives a day, the RSA pair two: readiness ends with the ECDSA one.
  t.equal(earliestExpiry([rsa, ecdsa]), ecdsa.notAfter);
  t.equal(earliestExpiry([ecdsa, rsa]), ecdsa.notAfter);
});
