// Shows the raw TLSA lookup against scripted DNS servers: TCP after a truncated UDP answer, the AD bit, SERVFAIL and silence as `unknown`, the next server tried.
import t from 'tap';
import { lookupTlsa } from '../../src/probe/tlsa.js';
import { startFakeDns } from '../support/probe-fake-dns.js';

const NAME = '_25._tcp.mx.example.test';
const RECORD = Buffer.concat([Buffer.from([3, 1, 1]), Buffer.alloc(32, 0xab)]);
const TEXT = `3 1 1 ${'ab'.repeat(32)}`;

void t.test('a truncated UDP answer is asked again over TCP', async (t) => {
  const dns = await startFakeDns({
    udp: 'truncate',
    records: [RECORD, RECORD],
    authenticated: true,
  });
  t.teardown(() => dns.close());
  t.strictSame(await lookupTlsa(NAME, [dns.server], 1000), {
    name: NAME,
    status: 'present',
    records: [TEXT, TEXT],
    dnssec: true,
    error: null,
  });
  t.equal(dns.udpQueries, 1);
  t.equal(dns.tcpQueries, 1);
});

void t.test('an answer without records is absent', async (t) => {
  const dns = await startFakeDns({ udp: 'answer', records: [] });
  t.teardown(() => dns.close());
  t.strictSame(await lookupTlsa(NAME, [dns.server], 1000), {
    name: NAME,
    status: 'absent',
    records: [],
    dnssec: false,
    error: null,
  });
  t.equal(dns.tcpQueries, 0);
});

void t.test('SERVFAIL and silence are unknown, each server named', async (t) => {
  const failing = await startFakeDns({ udp: { rcode: 2 }, records: [] });
  t.teardown(() => failing.close());
  const silent = await startFakeDns({ udp: 'silent', records: [] });
  t.teardown(() => silent.close());
  t.strictSame(await lookupTlsa(NAME, [failing.server, silent.server, 'nonsense'], 300), {
    name: NAME,
    status: 'unknown',
    records: [],
    dnssec: false,
    error: `${failing.server}: SERVFAIL; ${silent.server}: DNS query timed out; nonsense: not a server address`,
  });
  t.strictSame(await lookupTlsa(NAME, [], 300), {
    name: NAME,
    status: 'unknown',
    records: [],
    dnssec: false,
    error: 'no DNS server configured',
  });
});

void t.test('the next server answers when the first fails', async (t) => {
  const failing = await startFakeDns({ udp: { rcode: 5 }, records: [] });
  t.teardown(() => failing.close());
  const good = await startFakeDns({ udp: 'answer', records: [RECORD] });
  t.teardown(() => good.close());
  const r = await lookupTlsa(NAME, [failing.server, good.server], 1000);
  t.equal(r.status, 'present');
  t.strictSame(r.records, [TEXT]);
});
