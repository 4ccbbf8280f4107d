// The Received header: RFC 3848 protocol keywords, the inbound TLS facts, safe client text, RFC 5322 date.
import t from 'tap';
import { protocolKeyword, receivedHeader } from '../../../src/relay/received.js';

const base = {
  helo: 'client.example',
  clientAddress: '192.0.2.1',
  clientHostname: undefined,
  hostname: 'relay.example.net',
  ehlo: true,
  authenticated: false,
  tls: { protocol: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384' },
  id: 'abc.1',
  date: new Date(Date.UTC(2026, 10, 28, 9, 5, 3)),
};

void t.test('a TLS session: ESMTPS with version and cipher', (t) => {
  t.equal(
    receivedHeader(base),
    'Received: from client.example ([192.0.2.1])\r\n\tby relay.example.net (starttls-relay) with ESMTPS id abc.1\r\n\t(version=TLSv1.3, cipher=TLS_AES_256_GCM_SHA384);\r\n\tSat, 28 Nov 2026 09:05:03 +0000\r\n',
  );
  t.end();
});

void t.test('plaintext, reverse DNS, IPv6 and IPv4-mapped addresses', (t) => {
  t.equal(
    receivedHeader({
      ...base,
      tls: undefined,
      clientHostname: 'host.example',
      clientAddress: '2001:db8::1',
    }),
    'Received: from client.example (host.example [IPv6:2001:db8::1])\r\n\tby relay.example.net (starttls-relay) with ESMTP id abc.1;\r\n\tSat, 28 Nov 2026 09:05:03 +0000\r\n',
  );
  t.match(
    receivedHeader({ ...base, clientAddress: '::ffff:192.0.2.9' }),
    /^Received: from client\.example \(\[192\.0\.2\.9\]\)/,
  );
  t.end();
});

void t.test('client-supplied HELO cannot break the header', (t) => {
  const h = receivedHeader({ ...base, helo: 'evil) (by\r\nX-Injected: 1' });
  t.notMatch(h, /X-Injected: 1\r\n/);
  t.match(h, /^Received: from evil\?\?\?by\?\?X-Injected:\?1 \(\[192\.0\.2\.1\]\)/);
  t.match(receivedHeader({ ...base, helo: undefined }), /^Received: from unknown /);
  t.end();
});

void t.test('protocol keywords (RFC 3848 §2)', (t) => {
  t.equal(protocolKeyword({ ehlo: false, tls: undefined, authenticated: false }), 'SMTP');
  t.equal(protocolKeyword({ ehlo: true, tls: undefined, authenticated: false }), 'ESMTP');
  t.equal(protocolKeyword({ ehlo: true, tls: base.tls, authenticated: false }), 'ESMTPS');
  t.equal(protocolKeyword({ ehlo: true, tls: undefined, authenticated: true }), 'ESMTPA');
  t.equal(protocolKeyword({ ehlo: true, tls: base.tls, authenticated: true }), 'ESMTPSA');
  t.end();
});
