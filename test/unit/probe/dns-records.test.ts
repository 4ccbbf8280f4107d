// Shows how MTA-STS and TLS-RPT TXT records are selected by version and parsed (RFC 8461 §3.1, RFC 8460 §3).
import t from 'tap';
import {
  parseFields,
  parseMtaStsRecord,
  parseTlsRptRecord,
  selectRecord,
  type TxtResolver,
} from '../../../src/probe/dns-records.js';

function resolver(answer: string[][] | { code: string }): TxtResolver {
  return {
    resolveTxt: () =>
      Array.isArray(answer)
        ? Promise.resolve(answer)
        : Promise.reject(Object.assign(new Error(answer.code), { code: answer.code })),
  };
}

void t.test('the one record of the version is selected, strings joined', async (t) => {
  t.strictSame(
    await selectRecord(
      resolver([['v=STSv1; ', 'id=1'], ['v=spf1 -all'], ['v=STSv10; id=2']]),
      'n',
      'STSv1',
    ),
    { status: 'present', text: 'v=STSv1; id=1' },
  );
  t.strictSame(await selectRecord(resolver([['v=STSv1']]), 'n', 'STSv1'), {
    status: 'present',
    text: 'v=STSv1',
  });
});

void t.test('none, several, and lookup failures', async (t) => {
  t.strictSame(await selectRecord(resolver([['v=spf1 -all']]), 'n', 'STSv1'), {
    status: 'absent',
    text: null,
    error: null,
  });
  t.strictSame(await selectRecord(resolver({ code: 'ENOTFOUND' }), 'n', 'STSv1'), {
    status: 'absent',
    text: null,
    error: null,
  });
  t.strictSame(await selectRecord(resolver({ code: 'ENODATA' }), 'n', 'STSv1'), {
    status: 'absent',
    text: null,
    error: null,
  });
  t.strictSame(await selectRecord(resolver({ code: 'ESERVFAIL' }), 'n', 'STSv1'), {
    status: 'dns-error',
    text: null,
    error: 'ESERVFAIL n',
  });
  t.strictSame(
    await selectRecord(
      resolver([['v=TLSRPTv1; rua=mailto:b@x'], ['v=TLSRPTv1; rua=mailto:a@x']]),
      'n',
      'TLSRPTv1',
    ),
    {
      status: 'invalid',
      text: 'v=TLSRPTv1; rua=mailto:a@x | v=TLSRPTv1; rua=mailto:b@x',
      error: '2 records begin with v=TLSRPTv1; exactly one is allowed',
    },
  );
});

void t.test('fields', (t) => {
  t.strictSame(
    [...(parseFields('v=STSv1 ;id=abc ; ext-1=x;') ?? [])],
    [
      ['v', 'STSv1'],
      ['id', 'abc'],
      ['ext-1', 'x'],
    ],
  );
  t.equal(parseFields('v=STSv1; junk'), undefined);
  t.strictSame(parseMtaStsRecord('v=STSv1; id=20190429T010101;'), { id: '20190429T010101' });
  t.strictSame(parseMtaStsRecord('v=STSv1; id=has-dash'), {
    error: 'id has-dash is not 1 to 32 letters and digits',
  });
  t.strictSame(parseMtaStsRecord(`v=STSv1; id=${'a'.repeat(33)}`), {
    error: `id ${'a'.repeat(33)} is not 1 to 32 letters and digits`,
  });
  t.strictSame(
    parseTlsRptRecord('v=TLSRPTv1; rua=mailto:tls@example.org, https://r.example.org/x'),
    {
      rua: ['mailto:tls@example.org', 'https://r.example.org/x'],
    },
  );
  t.strictSame(parseTlsRptRecord('v=TLSRPTv1'), { error: 'no rua field' });
  t.strictSame(parseTlsRptRecord('v=TLSRPTv1; rua=http://r.example.org'), {
    error: 'rua "http://r.example.org" is not a mailto: or https: URI',
  });
  t.end();
});
