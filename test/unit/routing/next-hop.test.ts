// Shows Router: static routes (first match, *.domain, *), host:port forms, MX routes and addresses().
import t from 'tap';
import type { RouteConfig } from '../../../src/config/schema.js';
import type { Resolver } from '../../../src/routing/mx.js';
import { Router, type NextHop } from '../../../src/routing/next-hop.js';
import { replies } from '../../../src/smtp/replies.js';

const route = (
  domains: string[],
  nextHop: string,
  tls: RouteConfig['tls'] = 'may',
): RouteConfig => ({
  domains,
  nextHop,
  tls,
  minVersion: 'TLSv1.2',
  enforceHistory: false,
});

const tlsOf = (level: RouteConfig['tls'], mx: boolean) => ({
  level,
  minVersion: 'TLSv1.2',
  mtaSts: mx && level !== 'none',
  enforceHistory: false,
});

type MxAnswer = Array<{ exchange: string; priority: number }>;

/** A resolver from a table; absent names are NXDOMAIN, absent types NODATA, strings are error codes. */
function fakeResolver(
  table: Readonly<Record<string, { mx?: MxAnswer | string; a?: string[]; aaaa?: string[] }>>,
): Resolver & { queries: string[] } {
  const queries: string[] = [];
  const err = (code: string) => Object.assign(new Error(code), { code });
  const answer = <T>(type: 'mx' | 'a' | 'aaaa', name: string): Promise<T> => {
    queries.push(`${type} ${name}`);
    const entry = table[name];
    if (entry === undefined) return Promise.reject(err('ENOTFOUND'));
    const value = entry[type];
    if (value === undefined) return Promise.reject(err('ENODATA'));
    if (typeof value === 'string') return Promise.reject(err(value));
    return Promise.resolve(value as T);
  };
  return {
    queries,
    resolveMx: (name: string) => answer<MxAnswer>('mx', name),
    resolve4: (name: string) => answer<string[]>('a', name),
    resolve6: (name: string) => answer<string[]>('aaaa', name),
  } as unknown as Resolver & { queries: string[] };
}

/** A system lookup stand-in that records what it was asked. */
function fakeLookup(table: Readonly<Record<string, string[]>>) {
  const asked: string[] = [];
  const lookup = (host: string): Promise<string[]> => {
    asked.push(host);
    const found = table[host];
    return found
      ? Promise.resolve(found)
      : Promise.reject(Object.assign(new Error('ENOTFOUND'), { code: 'ENOTFOUND' }));
  };
  return { lookup, asked };
}

async function nextHopOf(router: Router, domain: string): Promise<NextHop> {
  const result = await router.resolveNextHop(domain);
  if (!result.ok) throw new Error(`expected a next hop for ${domain}, got ${result.reply.code}`);
  return result.nextHop;
}

void t.test('the first matching static route wins', async (t) => {
  const router = new Router(
    [
      route(['other.example'], 'other.internal:25'),
      route(['example.org'], 'first.internal:2525', 'none'),
      route(['example.org'], 'second.internal:2526'),
      route(['*'], 'catchall.internal'),
    ],
    { resolver: fakeResolver({}) },
  );
  t.same(await router.resolveNextHop('example.org'), {
    ok: true,
    nextHop: {
      domain: 'example.org',
      source: 'route',
      hosts: [{ name: 'first.internal', port: 2525, preference: null }],
      tls: tlsOf('none', false),
      key: 'route:1:first.internal:2525',
    },
  });
  const other = await nextHopOf(router, 'unlisted.example');
  t.same(
    other.hosts,
    [{ name: 'catchall.internal', port: 25, preference: null }],
    '`*` catches the rest',
  );
});

void t.test('`*.example.org` matches subdomains at any depth, not the domain itself', async (t) => {
  const router = new Router(
    [route(['*.example.org'], 'sub.internal:2525'), route(['example.org'], 'apex.internal:2526')],
    {
      resolver: fakeResolver({}),
    },
  );
  for (const d of ['a.example.org', 'deep.a.example.org']) {
    t.same(
      (await nextHopOf(router, d)).hosts,
      [{ name: 'sub.internal', port: 2525, preference: null }],
      d,
    );
  }
  t.same((await nextHopOf(router, 'example.org')).hosts, [
    { name: 'apex.internal', port: 2526, preference: null },
  ]);
  t.same(
    await router.resolveNextHop('badexample.org'),
    { ok: false, reply: replies.relayDenied },
    'no suffix match without the dot',
  );
});

void t.test('host:port forms: name, name:port, IPv4:port, [IPv6]:port', async (t) => {
  const cases: Array<[string, string, number]> = [
    ['relay.internal', 'relay.internal', 25],
    ['relay.internal:2525', 'relay.internal', 2525],
    ['10.0.0.5:587', '10.0.0.5', 587],
    ['[::1]:2525', '::1', 2525],
    ['[2001:db8::1]', '2001:db8::1', 25],
  ];
  for (const [nextHop, name, port] of cases) {
    const router = new Router([route(['example.org'], nextHop)], { resolver: fakeResolver({}) });
    const hop = await nextHopOf(router, 'example.org');
    t.same(hop.hosts, [{ name, port, preference: null }], nextHop);
    t.equal(hop.key, `route:0:${name}:${port}`, `${nextHop} key`);
  }
});

void t.test('an MX route resolves MX hosts, all on mxPort (25 by default)', async (t) => {
  const resolver = fakeResolver({
    'example.net': {
      mx: [
        { exchange: 'mx2.example.net', priority: 20 },
        { exchange: 'mx1.example.net', priority: 10 },
      ],
    },
  });
  const router = new Router([route(['*'], 'mx')], { resolver, mxPort: 2526 });
  t.same(await router.resolveNextHop('example.net'), {
    ok: true,
    nextHop: {
      domain: 'example.net',
      source: 'mx',
      hosts: [
        { name: 'mx1.example.net', port: 2526, preference: 10 },
        { name: 'mx2.example.net', port: 2526, preference: 20 },
      ],
      tls: tlsOf('may', true),
      key: 'mx:example.net:0',
    },
  });
  const defaultPort = new Router([route(['*'], 'mx')], { resolver });
  t.same(
    (await nextHopOf(defaultPort, 'example.net')).hosts.map((h) => h.port),
    [25, 25],
    'port 25 without an override',
  );
});

void t.test('MX outcomes that refuse the recipient map to the relay replies', async (t) => {
  const resolver = fakeResolver({
    'nullmx.example': { mx: [{ exchange: '', priority: 0 }] },
    'servfail.example': { mx: 'ESERVFAIL' },
  });
  const router = new Router([route(['*'], 'mx')], { resolver, mxPort: 2526 });
  t.same(await router.resolveNextHop('nullmx.example'), { ok: false, reply: replies.nullMx });
  t.same(await router.resolveNextHop('nx.example'), { ok: false, reply: replies.domainNotFound });
  t.same(await router.resolveNextHop('servfail.example'), {
    ok: false,
    reply: replies.dnsTempFail,
  });
  t.same(replies.nullMx, {
    code: 556,
    lines: ['5.1.10 Recipient domain does not accept mail (null MX)'],
  });
  t.same(replies.domainNotFound, { code: 550, lines: ['5.1.2 Recipient domain not found'] });
});

void t.test('no matching route: relay denied, and no DNS query', async (t) => {
  const resolver = fakeResolver({});
  const router = new Router([route(['example.org'], 'mx')], { resolver });
  t.same(await router.resolveNextHop('example.com'), { ok: false, reply: replies.relayDenied });
  t.same(replies.relayDenied, { code: 554, lines: ['5.7.1 Relay access denied'] });
  t.same(resolver.queries, []);
  const none = new Router([], { resolver });
  t.same(
    await none.resolveNextHop('example.org'),
    { ok: false, reply: replies.relayDenied },
    'no routes at all',
  );
});

void t.test(
  'addresses(): IP literals as they are, route names via lookup, MX names via the resolver',
  async (t) => {
    const resolver = fakeResolver({
      'example.net': { mx: [{ exchange: 'mx.example.net', priority: 10 }] },
      'mx.example.net': { a: ['192.0.2.10'], aaaa: ['2001:db8::10'] },
    });
    const { lookup, asked } = fakeLookup({ 'relay.internal': ['10.1.2.3'] });
    const router = new Router(
      [
        route(['v4.example'], '10.0.0.5:2525'),
        route(['v6.example'], '[::1]:2525'),
        route(['named.example'], 'relay.internal'),
        route(['gone.example'], 'gone.internal'),
        route(['*'], 'mx'),
      ],
      { resolver, lookup, mxPort: 2526 },
    );
    const addressesOf = async (domain: string): Promise<string[][]> => {
      const hop = await nextHopOf(router, domain);
      return Promise.all(hop.hosts.map((h) => router.addresses(hop, h)));
    };
    t.same(await addressesOf('v4.example'), [['10.0.0.5']]);
    t.same(await addressesOf('v6.example'), [['::1']]);
    t.same(asked, [], 'IP literals are never looked up');
    t.same(await addressesOf('named.example'), [['10.1.2.3']]);
    t.same(await addressesOf('gone.example'), [[]], 'a failed lookup is no address, not an error');
    t.same(asked, ['relay.internal', 'gone.internal']);
    t.same(await addressesOf('example.net'), [['192.0.2.10', '2001:db8::10']], 'A before AAAA');
    t.notOk(
      resolver.queries.some((q) => q.includes('internal')),
      'route host names never go through the MX resolver',
    );
  },
);
