// Shows the RFC 8460 §4.4 report JSON, key for key, of a known day, its gzip form and its §5.1 file name.
import { gunzipSync } from 'node:zlib';
import t from 'tap';
import { DayAggregate } from '../../../src/tls-rpt/aggregate.js';
import { addDays, dayRange, isDay, utcDay } from '../../../src/tls-rpt/day.js';
import {
  buildReport,
  gzipReport,
  reportFileName,
  senderDomain,
} from '../../../src/tls-rpt/report.js';
import { DAY_EVENTS } from './events.js';

const IDENTITY = { organizationName: 'Relay Org', contactInfo: 'tls-reports@relay.example' };

function day() {
  const aggregate = new DayAggregate();
  for (const e of DAY_EVENTS) aggregate.add(e);
  return aggregate.snapshot();
}

void t.test('the report of an STS domain is the RFC JSON, exactly', (t) => {
  const [a] = day();
  if (!a) throw new Error('no a.test');
  t.equal(
    JSON.stringify(buildReport(a, '2024-05-01', IDENTITY)),
    JSON.stringify({
      'organization-name': 'Relay Org',
      'date-range': {
        'start-datetime': '2024-05-01T00:00:00Z',
        'end-datetime': '2024-05-01T23:59:59Z',
      },
      'contact-info': 'tls-reports@relay.example',
      'report-id': '2024-05-01T00:00:00Z_a.test',
      policies: [
        {
          policy: {
            'policy-type': 'sts',
            'policy-string': [
              'version: STSv1',
              'mode: enforce',
              'mx: *.mail.a.test',
              'max_age: 86400',
            ],
            'policy-domain': 'a.test',
            'mx-host': ['*.mail.a.test'],
          },
          summary: { 'total-successful-session-count': 3, 'total-failure-session-count': 3 },
          'failure-details': [
            {
              'result-type': 'certificate-expired',
              'sending-mta-ip': '192.0.2.1',
              'receiving-mx-hostname': 'mx1.mail.a.test',
              'receiving-ip': '203.0.113.5',
              'failed-session-count': 2,
              'failure-reason-code': 'CERT_HAS_EXPIRED',
            },
            {
              'result-type': 'starttls-not-supported',
              'sending-mta-ip': '192.0.2.1',
              'receiving-mx-hostname': 'mx2.mail.a.test',
              'receiving-ip': '203.0.113.6',
              'failed-session-count': 1,
            },
          ],
        },
      ],
    }),
  );
  t.end();
});

void t.test('a domain without a policy: no policy-string, no mx-host, no failures', (t) => {
  const [, b] = day();
  if (!b) throw new Error('no b.test');
  t.equal(
    JSON.stringify(buildReport(b, '2024-05-01', { ...IDENTITY, uniqueId: 'relay-1.example' })),
    '{"organization-name":"Relay Org","date-range":{"start-datetime":"2024-05-01T00:00:00Z",' +
      '"end-datetime":"2024-05-01T23:59:59Z"},"contact-info":"tls-reports@relay.example",' +
      '"report-id":"2024-05-01T00:00:00Z_b.test_relay1example","policies":[{"policy":' +
      '{"policy-type":"no-policy-found","policy-domain":"b.test"},"summary":' +
      '{"total-successful-session-count":1,"total-failure-session-count":0},' +
      '"failure-details":[]}]}',
  );
  t.end();
});

void t.test('the gzip body unpacks to the same JSON', (t) => {
  const [a] = day();
  if (!a) throw new Error('no a.test');
  const report = buildReport(a, '2024-05-01', IDENTITY);
  const body = gzipReport(report);
  t.equal(body[0], 0x1f, 'gzip magic');
  t.equal(body[1], 0x8b);
  t.strictSame(JSON.parse(gunzipSync(body).toString('utf8')), report);
  t.end();
});

void t.test('the file name: sender!policy-domain!begin!end[!unique-id].json.gz', (t) => {
  // 2024-05-01T00:00:00Z is 1714521600; the day's last second 86399 later.
  t.equal(
    reportFileName('a.test', '2024-05-01', IDENTITY),
    'relay.example!a.test!1714521600!1714607999.json.gz',
  );
  t.equal(
    reportFileName('a.test', '2024-05-01', { ...IDENTITY, uniqueId: 'relay-7.example' }),
    'relay.example!a.test!1714521600!1714607999!relay7example.json.gz',
    'the unique id keeps letters and digits only (RFC 8460 §5.1)',
  );
  t.equal(
    senderDomain({ ...IDENTITY, contactInfo: 'mailto:tlsrpt@Sender.example' }),
    'Sender.example',
  );
  t.equal(senderDomain({ ...IDENTITY, senderDomain: 'mta.example' }), 'mta.example');
  t.end();
});

void t.test('UTC days: names, ranges, steps', (t) => {
  t.equal(utcDay(new Date('2024-05-01T23:59:59.999Z')), '2024-05-01');
  t.equal(utcDay(new Date('2024-05-02T00:00:00Z')), '2024-05-02');
  t.equal(addDays('2024-03-01', -1), '2024-02-29');
  t.equal(addDays('2024-12-31', 1), '2025-01-01');
  t.ok(isDay('2024-02-29'));
  t.notOk(isDay('2023-02-29'));
  t.notOk(isDay('2024-5-1'));
  t.strictSame(dayRange('1970-01-02'), {
    startDatetime: '1970-01-02T00:00:00Z',
    endDatetime: '1970-01-02T23:59:59Z',
    beginTimestamp: 86400,
    endTimestamp: 172799,
  });
  t.end();
});
