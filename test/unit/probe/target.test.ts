// Shows how the probe's argument is read: a domain, or one host as name:port, an address, or [IPv6]:port.
import t from 'tap';
import { parseTarget } from '../../../src/probe/target.js';

void t.test('names without a port are domains, in lower-case A-labels', (t) => {
  t.strictSame(parseTarget('Example.ORG'), { kind: 'domain', domain: 'example.org' });
  t.strictSame(parseTarget('example.org.'), { kind: 'domain', domain: 'example.org' });
  t.strictSame(parseTarget('bücher.example'), { kind: 'domain', domain: 'xn--bcher-kva.example' });
  t.end();
});

void t.test('a port, an address or brackets make a host', (t) => {
  t.strictSame(parseTarget('mx.example.org:2525'), {
    kind: 'host',
    host: 'mx.example.org',
    port: 2525,
  });
  t.strictSame(parseTarget('192.0.2.1'), { kind: 'host', host: '192.0.2.1', port: null });
  t.strictSame(parseTarget('192.0.2.1:25'), { kind: 'host', host: '192.0.2.1', port: 25 });
  t.strictSame(parseTarget('2001:db8::1'), { kind: 'host', host: '2001:db8::1', port: null });
  t.strictSame(parseTarget('[2001:db8::1]:587'), { kind: 'host', host: '2001:db8::1', port: 587 });
  t.strictSame(parseTarget('[2001:db8::1]'), { kind: 'host', host: '2001:db8::1', port: null });
  t.end();
});

void t.test('anything else is refused', (t) => {
  for (const bad of [
    '',
    'not a name',
    '-x.org',
    'x..org',
    'a.org:0',
    'a.org:65536',
    'a.org:x',
    '[192.0.2.1]:25',
    '[nonsense]',
    'mailto:a@b',
  ]) {
    t.equal(parseTarget(bad), undefined, JSON.stringify(bad));
  }
  t.end();
});
