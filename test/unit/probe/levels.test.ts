// Shows how a host's level and shortfalls follow from its facts, a domain's level from its hosts, and the exit code from both.
import t from 'tap';
import { domainLevel, exitCode, hostLevel, type HostFacts } from '../../../src/probe/levels.js';
import type { HostReport, TlsReport } from '../../../src/probe/model.js';

const MODERN_TLS: TlsReport = {
  protocol: 'TLSv1.3',
  cipher: 'TLS_AES_256_GCM_SHA384',
  keyExchange: 'X25519',
  versions: { TLSv1: false, 'TLSv1.1': false, 'TLSv1.2': true, 'TLSv1.3': true },
  tls12ForwardSecrecyOnly: true,
  tls12NonForwardSecretSuites: [],
  certificate: {
    subject: 'CN=mx.example.org',
    issuer: 'CN=CA',
    altNames: ['DNS:mx.example.org'],
    notBefore: '2026-01-01T00:00:00.000Z',
    notAfter: '2027-01-01T00:00:00.000Z',
    expired: false,
    chainValid: true,
    chainError: null,
    nameMatch: true,
    nameError: null,
    fingerprintSha256: 'AA',
  },
};

function host(overrides: Partial<HostFacts> = {}): HostFacts {
  return {
    name: 'mx.example.org',
    preference: 10,
    port: 25,
    addresses: ['192.0.2.1'],
    address: '192.0.2.1',
    reachable: true,
    error: null,
    banner: '220 mx.example.org ESMTP',
    starttls: true,
    tlsError: null,
    tls: MODERN_TLS,
    tlsa: null,
    ...overrides,
  };
}

function withTls(tls: Partial<TlsReport>, cert: Partial<TlsReport['certificate']> = {}): HostFacts {
  return host({
    tls: { ...MODERN_TLS, ...tls, certificate: { ...MODERN_TLS.certificate, ...cert } },
  });
}

void t.test('each rung of the ladder', (t) => {
  t.strictSame(hostLevel(host()), { level: 'modern', shortfalls: [] });
  t.strictSame(hostLevel(host({ starttls: false, tls: null })), {
    level: 'none',
    shortfalls: ['STARTTLS not offered'],
  });
  t.strictSame(hostLevel(host({ tls: null, tlsError: 'ERR_SSL_WRONG_VERSION_NUMBER' })), {
    level: 'none',
    shortfalls: ['STARTTLS failed: ERR_SSL_WRONG_VERSION_NUMBER'],
  });
  t.strictSame(
    hostLevel(
      withTls({}, { nameMatch: false, nameError: 'Host: mx.example.org. is not in the cert' }),
    ),
    {
      level: 'encrypted',
      shortfalls: [
        'certificate does not match mx.example.org: Host: mx.example.org. is not in the cert',
      ],
    },
  );
  t.strictSame(hostLevel(withTls({ versions: { ...MODERN_TLS.versions, 'TLSv1.1': true } })), {
    level: 'verified',
    shortfalls: ['accepts TLSv1.1'],
  });
  t.end();
});

void t.test('a weakness above a failed rung is still listed, the level stays low', (t) => {
  t.strictSame(
    hostLevel(
      withTls(
        {
          versions: { ...MODERN_TLS.versions, TLSv1: true },
          tls12ForwardSecrecyOnly: false,
          tls12NonForwardSecretSuites: ['AES128-SHA'],
        },
        { chainValid: false, chainError: 'SELF_SIGNED_CERT_IN_CHAIN' },
      ),
    ),
    {
      level: 'encrypted',
      shortfalls: [
        'certificate chain invalid: SELF_SIGNED_CERT_IN_CHAIN',
        'accepts TLSv1',
        'accepts TLS 1.2 suites without forward secrecy: AES128-SHA',
      ],
    },
  );
  t.end();
});

void t.test('what could not be told keeps a host below modern', (t) => {
  t.strictSame(
    hostLevel(
      withTls({ versions: { ...MODERN_TLS.versions, TLSv1: null }, tls12ForwardSecrecyOnly: null }),
    ),
    {
      level: 'verified',
      shortfalls: [
        'could not tell whether TLSv1 is refused',
        'could not tell whether every TLS 1.2 suite has forward secrecy',
      ],
    },
  );
  t.end();
});

void t.test('an unreachable host has no level', (t) => {
  t.strictSame(
    hostLevel(host({ reachable: false, error: 'connect ETIMEDOUT', starttls: null, tls: null })),
    {
      level: null,
      shortfalls: ['unreachable: connect ETIMEDOUT'],
    },
  );
  t.end();
});

void t.test('the domain takes its weakest host; exit codes', (t) => {
  const report = (facts: HostFacts): HostReport => ({ ...facts, ...hostLevel(facts) });
  const modern = report(host());
  const none = report(host({ starttls: false, tls: null }));
  const down = report(host({ reachable: false, error: 'x', starttls: null, tls: null }));
  t.equal(domainLevel([modern, none]), 'none');
  t.equal(domainLevel([modern]), 'modern');
  t.equal(domainLevel([modern, down]), null);
  t.equal(domainLevel([]), null);

  const found = { status: 'found', error: null } as const;
  t.equal(exitCode(found, [modern], 'modern', 'modern'), 0);
  t.equal(exitCode(found, [modern, none], 'none', 'encrypted'), 1);
  t.equal(exitCode(found, [modern, none], 'none', 'none'), 0);
  t.equal(exitCode(found, [modern, down], null, 'none'), 2);
  t.equal(exitCode({ status: 'null-mx', error: null }, [], null, 'none'), 2);
  t.equal(exitCode({ status: 'dns-error', error: 'ESERVFAIL' }, [], null, 'none'), 2);
  t.end();
});
