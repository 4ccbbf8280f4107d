// Relay authorization decides on the final domain: accepted domains, allowed networks, and no routing tricks for untrusted clients.
import t from 'tap';
import { NetworkSet, parseCidr } from '../../../src/inbound/networks.js';
import { acceptRecipient, splitAddress } from '../../../src/inbound/relay-authorization.js';

const policy = {
  acceptDomains: ['example.org', '*.example.net', 'bücher.test'],
  allowedNetworks: new NetworkSet(['10.0.0.0/8', 'fd00::/8', '192.0.2.7']),
};
const stranger = { address: '198.51.100.1', authenticated: false };
const verdict = (rcpt: string, client = stranger) => {
  const v = acceptRecipient(policy, client, rcpt);
  return v.ok ? v.reason : `${v.reply.code} ${v.reply.lines[0]}`;
};

void t.test('untrusted clients reach accepted domains only', (t) => {
  t.equal(verdict('a@example.org'), 'accepted-domain');
  t.equal(verdict('a@EXAMPLE.ORG.'), 'accepted-domain');
  t.equal(verdict('a@sub.example.net'), 'accepted-domain');
  t.equal(verdict('a@example.net'), '554 5.7.1 Relay access denied', '*.x matches subdomains only');
  t.equal(
    verdict('a@xn--bcher-kva.test'),
    'accepted-domain',
    'IDN pattern matches its A-label form',
  );
  t.equal(verdict('a@bücher.test'), 'accepted-domain');
  t.equal(verdict('a@example.com'), '554 5.7.1 Relay access denied');
  t.equal(verdict('a@example.org.evil.test'), '554 5.7.1 Relay access denied');
  t.end();
});

void t.test('sender-specified routing never relays for untrusted clients', (t) => {
  t.equal(verdict('victim%evil.test@example.org'), '554 5.7.1 Relay access denied', 'percent hack');
  t.equal(verdict('evil.test!victim@example.org'), '554 5.7.1 Relay access denied', 'bang path');
  t.equal(verdict('"victim@evil.test"@example.org'), '554 5.7.1 Relay access denied', 'quoted @');
  t.equal(
    verdict('@example.org:victim@evil.test'),
    '554 5.7.1 Relay access denied',
    'source route to a foreign domain',
  );
  t.equal(
    verdict('@evil.test:victim@example.org'),
    '554 5.7.1 Relay access denied',
    'source route through a foreign host',
  );
  t.end();
});

void t.test('allowed networks relay anywhere, IPv4, IPv6 and IPv4-mapped', (t) => {
  t.equal(
    verdict('a@example.com', { address: '10.1.2.3', authenticated: false }),
    'allowed-network',
  );
  t.equal(
    verdict('a@example.com', { address: '::ffff:10.1.2.3', authenticated: false }),
    'allowed-network',
  );
  t.equal(
    verdict('a@example.com', { address: 'fd12::1', authenticated: false }),
    'allowed-network',
  );
  t.equal(
    verdict('a@example.com', { address: '192.0.2.7', authenticated: false }),
    'allowed-network',
    'a bare address is a /32',
  );
  t.equal(
    verdict('a@example.com', { address: '192.0.2.8', authenticated: false }),
    '554 5.7.1 Relay access denied',
  );
  t.equal(
    verdict('a@example.com', { address: 'fe80::1', authenticated: false }),
    '554 5.7.1 Relay access denied',
  );
  t.equal(
    verdict('a@example.com', { address: '198.51.100.1', authenticated: true }),
    'authenticated',
  );
  t.end();
});

void t.test('addresses without a usable domain are refused as syntax errors', (t) => {
  t.equal(verdict('nodomain'), '501 5.1.3 Bad recipient address syntax');
  t.equal(verdict('trailing@'), '501 5.1.3 Bad recipient address syntax');
  t.same(splitAddress('a@B.Example.'), { local: 'a', domain: 'b.example' });
  t.same(splitAddress('@r1,@r2:user@final.test'), { local: 'user', domain: 'final.test' });
  t.end();
});

void t.test('CIDR parsing', (t) => {
  t.same(parseCidr('10.0.0.0/8'), { address: '10.0.0.0', prefix: 8, family: 'ipv4' });
  t.same(parseCidr('::1'), { address: '::1', prefix: 128, family: 'ipv6' });
  for (const bad of ['10.0.0.0/33', '10.0.0/8', 'fd00::/129', '10.0.0.0/8/8', '10.0.0.0/x', ''])
    t.equal(parseCidr(bad), undefined, bad);
  t.throws(() => new NetworkSet(['nope']), /invalid network: nope/);
  const allV6 = new NetworkSet(['::/0']);
  t.ok(allV6.contains('2001:db8::1'));
  t.notOk(allV6.contains('192.0.2.1'), 'all of IPv6 is not all of IPv4');
  t.notOk(allV6.contains('::ffff:192.0.2.1'), 'nor IPv4-mapped addresses');
  t.end();
});

void t.test('remembered answers stay right, asked again and past the memory of 4,096', (t) => {
  const set = new NetworkSet(['10.0.0.0/8']);
  const probes: ReadonlyArray<readonly [string, boolean]> = [
    ['10.1.2.3', true],
    ['::ffff:10.1.2.3', true],
    ['192.0.2.1', false],
    ['::ffff:192.0.2.1', false],
  ];
  for (const [address, inside] of probes) t.equal(set.contains(address), inside, address);
  for (const [address, inside] of probes)
    t.equal(set.contains(address), inside, `${address} again`);
  let wrong = 0;
  for (let i = 0; i < 5000; i += 1) {
    const inside = i % 2 === 0;
    const address = inside ? `10.0.${i >> 8}.${i & 255}` : `172.16.${i >> 8}.${i & 255}`;
    if (set.contains(address) !== inside) wrong += 1;
  }
  t.equal(wrong, 0, '5,000 other addresses answered right');
  for (const [address, inside] of probes)
    t.equal(set.contains(address), inside, `${address} after`);
  t.end();
});

void t.test(
  'unqualified postmaster is accepted from anyone, routed as the relay host name',
  (t) => {
    const withHost = { ...policy, postmasterDomain: 'relay.example.net' };
    for (const rcpt of ['postmaster', 'Postmaster', 'POSTMASTER']) {
      t.same(acceptRecipient(withHost, stranger, rcpt), {
        ok: true,
        reason: 'postmaster',
        domain: 'relay.example.net',
      });
    }
    t.equal(
      verdict('webmaster'),
      '501 5.1.3 Bad recipient address syntax',
      'other unqualified names stay refused',
    );
    t.end();
  },
);
