// Shows lookupMx over an in-memory resolver: preference order, ties, null MX, implicit MX, errors.
import t from 'tap';
import { lookupMx, type Resolver } from '../../../src/routing/mx.js';

type Answer<T> = T[] | { readonly error: string };
interface FakeName {
  readonly mx?: Answer<{ exchange: string; priority: number }>;
  readonly a?: Answer<string>;
  readonly aaaa?: Answer<string>;
}

/**
 * A resolver answering from a table, as DNS would: a name absent from the table is NXDOMAIN
 * (ENOTFOUND), a type absent for a present name is NODATA (ENODATA), `{ error }` fails with it.
 */
function fakeResolver(table: Readonly<Record<string, FakeName>>): Resolver & { queries: string[] } {
  const queries: string[] = [];
  const fail = (code: string, call: string, name: string): Error =>
    Object.assign(new Error(`${call} ${code} ${name}`), { code, hostname: name, syscall: call });
  function answer<T>(call: string, type: keyof FakeName, name: string): Promise<T[]> {
    queries.push(`${type} ${name}`);
    const entry = table[name];
    if (entry === undefined) return Promise.reject(fail('ENOTFOUND', call, name));
    const a = entry[type] as Answer<T> | undefined;
    if (a === undefined) return Promise.reject(fail('ENODATA', call, name));
    if (!Array.isArray(a)) return Promise.reject(fail(a.error, call, name));
    return Promise.resolve(a);
  }
  const fake = {
    queries,
    resolveMx: (name: string) =>
      answer<{ exchange: string; priority: number }>('queryMx', 'mx', name),
    resolve4: (name: string) => answer<string>('queryA', 'a', name),
    resolve6: (name: string) => answer<string>('queryAaaa', 'aaaa', name),
  };
  // resolve4/resolve6 have `{ ttl: true }` overloads the relay never uses.
  return fake as unknown as Resolver & { queries: string[] };
}

void t.test('MX hosts come in preference order, lowest first', async (t) => {
  const r = fakeResolver({
    'example.org': {
      mx: [
        { exchange: 'mx20.example.org', priority: 20 },
        { exchange: 'mx5.example.org', priority: 5 },
        { exchange: 'mx10.example.org', priority: 10 },
      ],
    },
  });
  t.same(await lookupMx(r, 'example.org'), {
    kind: 'hosts',
    hosts: [
      { name: 'mx5.example.org', preference: 5 },
      { name: 'mx10.example.org', preference: 10 },
      { name: 'mx20.example.org', preference: 20 },
    ],
  });
  t.same(r.queries, ['mx example.org'], 'no address lookups for an MX answer');
});

void t.test('equal preferences are all kept, in either order, before higher ones', async (t) => {
  const r = fakeResolver({
    'example.org': {
      mx: [
        { exchange: 'backup.example.org', priority: 20 },
        { exchange: 'a.example.org', priority: 10 },
        { exchange: 'b.example.org', priority: 10 },
      ],
    },
  });
  const firsts = new Set<string>();
  const shapes = new Set<string>();
  // RFC 5321 §5.1 randomises ties; 200 lookups all starting with the same host has odds 2^-199.
  for (let i = 0; i < 200; i++) {
    const result = await lookupMx(r, 'example.org');
    if (result.kind !== 'hosts') return t.fail(`expected hosts, got ${result.kind}`);
    const names = result.hosts.map((h) => h.name);
    firsts.add(names[0] ?? '');
    // Order-free shape: the two tied hosts (sorted here), then the backup, and the preferences.
    shapes.add(
      JSON.stringify([
        [...names.slice(0, 2)].sort(),
        names.slice(2),
        result.hosts.map((h) => h.preference),
      ]),
    );
  }
  t.same(
    [...shapes].map((s) => JSON.parse(s) as unknown),
    [[['a.example.org', 'b.example.org'], ['backup.example.org'], [10, 10, 20]]],
    'always both tied hosts first, then the backup',
  );
  t.same(
    [...firsts].sort(),
    ['a.example.org', 'b.example.org'],
    'both equal hosts come first sometimes',
  );
});

void t.test('MX host names lose their trailing dot and upper case', async (t) => {
  const r = fakeResolver({
    'example.org': {
      mx: [
        { exchange: 'MX2.Example.ORG.', priority: 20 },
        { exchange: 'Mx1.EXAMPLE.org.', priority: 10 },
      ],
    },
  });
  t.same(await lookupMx(r, 'example.org'), {
    kind: 'hosts',
    hosts: [
      { name: 'mx1.example.org', preference: 10 },
      { name: 'mx2.example.org', preference: 20 },
    ],
  });
});

void t.test('a null MX (RFC 7505) means the domain accepts no mail', async (t) => {
  // Node reports the root target "." as an empty exchange; accept the dotted form too.
  for (const exchange of ['', '.']) {
    const r = fakeResolver({
      'nomail.example': { mx: [{ exchange, priority: 0 }], a: ['192.0.2.1'] },
    });
    t.same(
      await lookupMx(r, 'nomail.example'),
      { kind: 'null-mx' },
      `exchange ${JSON.stringify(exchange)}`,
    );
    t.same(r.queries, ['mx nomail.example'], 'no implicit MX fallback to the A record');
  }
});

void t.test('a "." among real MX records is skipped and the real ones used', async (t) => {
  const r = fakeResolver({
    'mixed.example': {
      mx: [
        { exchange: '', priority: 0 },
        { exchange: 'mx.mixed.example', priority: 10 },
      ],
    },
  });
  t.same(await lookupMx(r, 'mixed.example'), {
    kind: 'hosts',
    hosts: [{ name: 'mx.mixed.example', preference: 10 }],
  });
});

void t.test(
  'no MX records (NODATA): the domain itself is the implicit MX when it has an address',
  async (t) => {
    const v4 = fakeResolver({ 'host.example': { a: ['192.0.2.7'] } });
    t.same(await lookupMx(v4, 'host.example'), {
      kind: 'hosts',
      hosts: [{ name: 'host.example', preference: null }],
    });
    t.same(v4.queries.slice().sort(), ['a host.example', 'aaaa host.example', 'mx host.example']);

    const v6 = fakeResolver({ 'host6.example': { aaaa: ['2001:db8::7'] } });
    t.same(
      await lookupMx(v6, 'host6.example'),
      { kind: 'hosts', hosts: [{ name: 'host6.example', preference: null }] },
      'an AAAA record alone is enough',
    );

    const empty = fakeResolver({ 'empty-mx.example': { mx: [], a: ['192.0.2.8'] } });
    t.same(
      await lookupMx(empty, 'empty-mx.example'),
      { kind: 'hosts', hosts: [{ name: 'empty-mx.example', preference: null }] },
      'an empty MX answer is the same as none',
    );
  },
);

void t.test('no MX and no address records: not found', async (t) => {
  const r = fakeResolver({ 'bare.example': {} });
  t.same(await lookupMx(r, 'bare.example'), { kind: 'not-found' });
  const emptyA = fakeResolver({ 'empty-a.example': { a: [], aaaa: [] } });
  t.same(await lookupMx(emptyA, 'empty-a.example'), { kind: 'not-found' }, 'empty A/AAAA answers');
});

void t.test('no MX and a failing address lookup: temporary', async (t) => {
  const r = fakeResolver({ 'flaky.example': { a: { error: 'ETIMEOUT' } } });
  t.same(await lookupMx(r, 'flaky.example'), { kind: 'temporary', error: 'ETIMEOUT,ENODATA' });
});

void t.test('NXDOMAIN (ENOTFOUND): not found, without address lookups', async (t) => {
  const r = fakeResolver({});
  t.same(await lookupMx(r, 'nx.example'), { kind: 'not-found' });
  t.same(r.queries, ['mx nx.example']);
});

void t.test('server failures and timeouts: temporary, with the error code', async (t) => {
  for (const code of ['ESERVFAIL', 'ETIMEOUT', 'ECONNREFUSED', 'EREFUSED']) {
    const r = fakeResolver({ 'down.example': { mx: { error: code }, a: ['192.0.2.1'] } });
    t.same(await lookupMx(r, 'down.example'), { kind: 'temporary', error: code }, code);
    t.same(r.queries, ['mx down.example'], `${code}: no implicit MX fallback`);
  }
  const noCode = {
    resolveMx: () => Promise.reject(new Error('boom')),
    resolve4: () => Promise.reject(new Error('unused')),
    resolve6: () => Promise.reject(new Error('unused')),
  } as unknown as Resolver;
  t.same(
    await lookupMx(noCode, 'x.example'),
    { kind: 'temporary', error: 'UNKNOWN' },
    'an error without a code',
  );
});
