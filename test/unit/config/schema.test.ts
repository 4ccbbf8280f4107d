// The configuration contract: defaults, precise errors with key paths, every error at once, contradictory route TLS settings refused, examples load.
import { readdir, writeFile, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import t from 'tap';
import { defaultConfig } from '../../../src/config/default.js';
import { loadConfigFile, validateConfig } from '../../../src/config/load.js';

const errorsOf = (doc: unknown): readonly string[] => {
  const r = validateConfig(doc, '/etc/starttls-relay');
  return r.ok ? [] : r.errors;
};

void t.test('every example in config/ loads', async (t) => {
  const dir = resolve(import.meta.dirname, '../../../config');
  const files = (await readdir(dir)).filter((f) => f.endsWith('.yaml'));
  t.ok(files.length >= 3, 'examples exist');
  for (const f of files) {
    const r = await loadConfigFile(join(dir, f));
    t.same(r.ok ? [] : r.errors, [], f);
  }
});

void t.test('the embedded default serves loopback on 2525 with MX delivery', (t) => {
  const r = defaultConfig('/srv');
  if (!r.ok) throw new Error(r.errors.join('\n'));
  t.match(r.config, {
    stateDir: '/srv/state',
    listeners: [{ name: 'mta', mode: 'mta', host: '127.0.0.1', port: 2525, proxyProtocol: false }],
    relay: { acceptDomains: [], allowedNetworks: ['127.0.0.0/8', '::1/128'], maxRecipients: 1000 },
    routes: [{ domains: ['*'], nextHop: 'mx', tls: 'may' }],
    metrics: { host: '127.0.0.1', port: 9464 },
    tls: { minVersion: 'TLSv1.2' },
  });
  t.equal(r.config.tls.cert, undefined, 'no configured certificate: one is generated');
  t.ok(Object.isFrozen(r.config.listeners[0]), 'the config is frozen');
  t.end();
});

void t.test('unknown keys are errors naming their path', (t) => {
  t.same(errorsOf({ listner: [] }), ['listner: unknown key']);
  t.same(errorsOf({ listeners: [{ name: 'a', prot: 25 }] }), ['listeners[0].prot: unknown key']);
  t.same(errorsOf({ routes: [{ domains: ['*'], nextHop: 'mx', tsl: 'may' }] }), [
    'routes[0].tsl: unknown key',
  ]);
  t.end();
});

void t.test('every error is reported at once, each with what was expected', (t) => {
  const errors = errorsOf({
    listeners: [
      { name: 'mta', port: 70000 },
      { name: 'mta', port: 25 },
    ],
    relay: { allowedNetworks: ['10.0.0.0/33', 'not-a-net'] },
    routes: [{ domains: [], nextHop: 'bad host:x' }],
    tls: { cert: '/c.pem' },
    log: { level: 'loud' },
  });
  t.match(errors, [
    /^listeners\[0\]\.port: Too big: expected number to be <=65535$/,
    /^listeners\[1\]\.name: duplicate listener name "mta"$/,
    /^tls: cert and key go together/,
    /^relay\.allowedNetworks\[0\]: expected an IPv4 or IPv6 address or CIDR block/,
    /^relay\.allowedNetworks\[1\]: expected an IPv4 or IPv6 address or CIDR block/,
    /^routes\[0\]\.domains: Too small/,
    /^routes\[0\]\.nextHop: expected "mx" or host\[:port\]/,
    /^log\.level: Invalid option: expected one of/,
  ]);
  t.equal(errors.length, 8);
  t.end();
});

void t.test('contradictory settings are refused with what to change', (t) => {
  t.same(errorsOf({ auth: { usersFile: './users', passthrough: true } }), [
    'auth: usersFile and passthrough exclude each other: choose one',
    'auth.passthrough: passthrough checks credentials with the next hop of the "*" route: give that route a host, not mx',
  ]);
  t.same(errorsOf({ listeners: [{ name: 'p', proxyProtocol: true }] }), [
    'listeners[0].proxyFrom: proxyProtocol needs proxyFrom: the load balancer addresses allowed to send the header',
  ]);
  t.same(
    errorsOf({
      routes: [
        { domains: ['a.test'], nextHop: 'h.internal', tls: 'none', ca: 'ca.pem', mtaSts: true },
        { domains: ['b.test'], nextHop: 'mx', tls: 'verify', minVersion: 'TLSv1', clientCert: 'c' },
      ],
    }),
    [
      'routes[0].ca: ca has no use on a route with tls: none',
      'routes[0].mtaSts: MTA-STS applies to MX delivery: set nextHop: mx or drop mtaSts',
      'routes[1].clientCert: clientCert and clientKey go together: give both, or neither',
      'routes[1].minVersion: TLSv1 is allowed on tls: may routes only (RFC 8996)',
    ],
  );
  t.same(errorsOf({ routes: [{ domains: ['*'], nextHop: 'mx', tls: 'bogus' }] }), [
    'routes[0].tls: Invalid option: expected one of "none"|"may"|"encrypt"|"verify"',
  ]);
  t.end();
});

void t.test('relative paths resolve against the config file directory', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'cfg-'));
  const file = join(dir, 'relay.yaml');
  await writeFile(
    file,
    'stateDir: ./st\ntls:\n  cert: c.pem\n  key: k.pem\n  rsaCert: rc.pem\n  rsaKey: rk.pem\n' +
      'auth:\n  usersFile: users.txt\n',
  );
  const r = await loadConfigFile(file);
  if (!r.ok) throw new Error(r.errors.join('\n'));
  t.equal(r.config.stateDir, join(dir, 'st'));
  t.equal(r.config.tls.cert, join(dir, 'c.pem'));
  t.equal(r.config.tls.key, join(dir, 'k.pem'));
  t.equal(r.config.tls.rsaCert, join(dir, 'rc.pem'));
  t.equal(r.config.tls.rsaKey, join(dir, 'rk.pem'));
  t.equal(r.config.auth?.usersFile, join(dir, 'users.txt'));
});

void t.test('YAML syntax errors and duplicate keys carry their position', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'cfg-'));
  const file = join(dir, 'bad.yaml');
  await writeFile(file, 'hostname: a\nhostname: b\n');
  const r = await loadConfigFile(file);
  t.equal(r.ok, false);
  t.match(r.ok ? [] : r.errors, [/bad\.yaml: Map keys must be unique at line 2, column 1/]);
  const missing = await loadConfigFile(join(dir, 'absent.yaml'));
  t.match(missing.ok ? [] : missing.errors, [/absent\.yaml: cannot read: ENOENT/]);
});

void t.test(
  'listener modes: default ports, AUTH required on submission, a users file for AUTH',
  (t) => {
    const r = validateConfig(
      {
        listeners: [
          { name: 'mta' },
          { name: 'sub', mode: 'submission' },
          { name: 'subs', mode: 'submissions' },
          { name: 'mta-auth', mode: 'mta', port: 2525, auth: true },
        ],
        auth: { usersFile: 'users.txt' },
      },
      '/etc/relay',
    );
    if (!r.ok) throw new Error(r.errors.join('\n'));
    t.same(
      r.config.listeners.map((l) => [l.name, l.port, l.auth]),
      [
        ['mta', 25, false],
        ['sub', 587, true],
        ['subs', 465, true],
        ['mta-auth', 2525, true],
      ],
    );
    t.match(r.config.auth, {
      usersFile: 'users.txt',
      passthrough: false,
      failures: { perAddress: 10, perUser: 5, windowSeconds: 900, whenExhausted: 'refuse' },
    });
    t.same(
      errorsOf({
        listeners: [{ name: 'sub', mode: 'submission', auth: false }],
        auth: { usersFile: 'u' },
      }),
      ['listeners[0].auth: submission listeners always require authentication (auth: true)'],
    );
    t.same(errorsOf({ listeners: [{ name: 'sub', mode: 'submission' }] }), [
      'listeners[0].auth: listener "sub" offers AUTH: set auth.usersFile or auth.passthrough',
    ]);
    t.same(
      errorsOf({ auth: { usersFile: 'u', failures: { whenExhausted: 'explode', perUser: 0 } } }),
      [
        'auth.failures.perUser: Too small: expected number to be >=1',
        'auth.failures.whenExhausted: Invalid option: expected one of "refuse"|"disconnect"',
      ],
    );
    t.end();
  },
);

void t.test('workers: 1 by default, a count or auto, nothing else', (t) => {
  const base = { listeners: [{ name: 'mta', port: 2525 }] };
  const one = validateConfig(base, '/srv');
  t.equal(one.ok && one.config.workers, 1);
  const auto = validateConfig({ ...base, workers: 'auto' }, '/srv');
  t.equal(auto.ok && auto.config.workers, 'auto');
  const four = validateConfig({ ...base, workers: 4 }, '/srv');
  t.equal(four.ok && four.config.workers, 4);
  t.same(errorsOf({ ...base, workers: 0 }), ['workers: Too small: expected number to be >=1']);
  t.same(errorsOf({ ...base, workers: 65 }), ['workers: Too big: expected number to be <=64']);
  for (const workers of [1.5, 'many']) {
    t.same(errorsOf({ ...base, workers }), [
      'workers: expected auto or a number of processes from 1 to 64',
    ]);
  }
  t.end();
});
