// Shows which MX hosts a policy allows (RFC 8461 §4.1) and the `_mta-sts` record as the relay reads it (§3.1): exactly one valid record, else none; a lookup failure kept apart.
import t from 'tap';
import { lookupStsRecord, type TxtResolver } from '../../../src/mta-sts/record.js';
import { MtaStsSource, type StsPolicy } from '../../../src/mta-sts/source.js';

const policy: StsPolicy = {
  mode: 'enforce',
  mx: ['mail.example.org', '*.mx.example.net'],
  maxAgeSeconds: 86400,
  id: '1',
};

void t.test('mxAllowed: exact names and one-label wildcards, any case, trailing dot', (t) => {
  t.ok(MtaStsSource.mxAllowed(policy, 'mail.example.org'));
  t.ok(MtaStsSource.mxAllowed(policy, 'MAIL.Example.ORG.'));
  t.ok(MtaStsSource.mxAllowed(policy, 'a.mx.example.net'));
  t.notOk(MtaStsSource.mxAllowed(policy, 'mx.example.net'), 'the wildcard needs a label');
  t.notOk(MtaStsSource.mxAllowed(policy, 'a.b.mx.example.net'), 'and only one');
  t.notOk(MtaStsSource.mxAllowed(policy, 'mail.example.org.evil.test'));
  t.notOk(MtaStsSource.mxAllowed({ ...policy, mode: 'none', mx: [] }, 'mail.example.org'));
  t.end();
});

function resolver(answer: string[][] | { code: string }): TxtResolver {
  return {
    resolveTxt: (name) => {
      if (name !== '_mta-sts.example.org') return Promise.reject(new Error(`asked for ${name}`));
      return Array.isArray(answer)
        ? Promise.resolve(answer)
        : Promise.reject(Object.assign(new Error(answer.code), { code: answer.code }));
    },
  };
}

void t.test('the record: its id, or absent with the reason, or a DNS error', async (t) => {
  const lookup = (answer: string[][] | { code: string }) =>
    lookupStsRecord(resolver(answer), 'example.org');
  t.strictSame(await lookup([['v=STSv1; id=20240101T000000'], ['v=spf1 -all']]), {
    kind: 'present',
    id: '20240101T000000',
  });
  t.strictSame(await lookup([['v=spf1 -all']]), { kind: 'absent', reason: null });
  t.strictSame(await lookup({ code: 'ENOTFOUND' }), { kind: 'absent', reason: null });
  t.strictSame(await lookup([['v=STSv1; id=1'], ['v=STSv1; id=2']]), {
    kind: 'absent',
    reason: '2 records begin with v=STSv1; exactly one is allowed',
  });
  t.strictSame(await lookup([['v=STSv1; id=not-alnum']]), {
    kind: 'absent',
    reason: 'id not-alnum is not 1 to 32 letters and digits',
  });
  t.strictSame(await lookup({ code: 'ESERVFAIL' }), {
    kind: 'dns-error',
    error: 'ESERVFAIL _mta-sts.example.org',
  });
});
