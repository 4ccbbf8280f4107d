// Shows MTA-STS policy parsing (RFC 8461 §3.2) and MX pattern matching (§4.1).
import t from 'tap';
import { mxMatches, parsePolicy } from '../../../src/probe/mta-sts-policy.js';

void t.test('a valid policy, CRLF or LF, unknown keys ignored, mx repeated', (t) => {
  const text =
    'version: STSv1\r\nmode: enforce\r\nmx: MX1.example.org\r\nmx: *.example.net\r\nmax_age:604800\r\nfuture_key: x\r\n';
  t.strictSame(parsePolicy(text), {
    version: 'STSv1',
    mode: 'enforce',
    maxAge: 604800,
    mx: ['mx1.example.org', '*.example.net'],
    errors: [],
  });
  t.strictSame(parsePolicy(text.replace(/\r\n/g, '\n')).errors, []);
  t.end();
});

void t.test('mode none needs no mx; every other mode does', (t) => {
  t.strictSame(parsePolicy('version: STSv1\nmode: none\nmax_age: 86400\n').errors, []);
  t.strictSame(parsePolicy('version: STSv1\nmode: testing\nmax_age: 86400\n').errors, ['no mx']);
  t.end();
});

void t.test('each fault is named', (t) => {
  t.strictSame(parsePolicy('').errors, ['no version', 'no mode', 'no max_age', 'no mx']);
  t.strictSame(
    parsePolicy(
      'version: STSv1\nmode: enforce\nmax_age: 31557601\nmx: *.*.example.org\nmx: bad_name.org\n',
    ).errors,
    [
      'max_age 31557601 exceeds 31557600',
      'mx *.*.example.org is not a host name or *.domain',
      'mx bad_name.org is not a host name or *.domain',
    ],
  );
  t.strictSame(parsePolicy('version: STSv1\nmode: enforce\nmax_age: -1\nmx: a.org\n').errors, [
    'max_age -1 is not a number',
  ]);
  t.end();
});

void t.test('the first of a repeated key counts', (t) => {
  const p = parsePolicy('version: STSv1\nmode: testing\nmode: enforce\nmax_age: 1\nmx: a.org\n');
  t.equal(p.mode, 'testing');
  t.end();
});

void t.test('a wildcard covers exactly one leftmost label', (t) => {
  t.ok(mxMatches('mx.example.org', 'MX.example.org.'));
  t.notOk(mxMatches('mx.example.org', 'mx2.example.org'));
  t.ok(mxMatches('*.example.org', 'mx.example.org'));
  t.notOk(mxMatches('*.example.org', 'example.org'));
  t.notOk(mxMatches('*.example.org', 'a.mx.example.org'));
  t.notOk(mxMatches('*.example.org', 'mx.example.org.evil'));
  t.end();
});
