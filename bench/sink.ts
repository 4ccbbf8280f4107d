/**
 * Bench child: an smtp-server sink with STARTTLS (ECDSA) that counts and drains what it receives,
 * timing arrivals, and greets at once (no early-talker pause: it stands for a fast next hop).
 */
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { SMTPServer } from 'smtp-server';
import { setGreetingDelay } from '../src/inbound/greeting-delay.js';
import { generateSelfSigned } from '../src/tls/self-signed.js';
import { isParentMessage, tellParent } from './ipc.js';

const { key, cert } = await generateSelfSigned(['sink.bench.test', '127.0.0.1']);
let delivered = 0;
let connections = 0;
let bytes = 0;
let sinceMark = { delivered: 0, firstAtMs: null as number | null, lastAtMs: null as number | null };

const server = new SMTPServer({
  key,
  cert,
  minVersion: 'TLSv1.2',
  name: 'sink.bench.test',
  logger: false,
  authOptional: true,
  disabledCommands: ['AUTH'],
  disableReverseLookup: true,
  onConnect(_session, callback) {
    connections += 1;
    callback();
  },
  onData(stream, _session, callback) {
    stream.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
    });
    stream.on('end', () => {
      delivered += 1;
      const now = performance.now();
      sinceMark.delivered += 1;
      sinceMark.firstAtMs ??= now;
      sinceMark.lastAtMs = now;
      callback(null, `2.0.0 Ok: queued as S${delivered}`);
    });
  },
});
server.on('error', () => undefined);
setGreetingDelay(server, 0);

server.listen(0, '127.0.0.1', () => {
  tellParent({ kind: 'ready', port: (server.server.address() as AddressInfo).port });
});

process.on('message', (m: unknown) => {
  if (!isParentMessage(m)) return;
  if (m.kind === 'mark') sinceMark = { delivered: 0, firstAtMs: null, lastAtMs: null };
  if (m.kind === 'stats' || m.kind === 'mark') {
    tellParent({ kind: 'stats', delivered, connections, bytes, sinceMark: { ...sinceMark } });
  }
});
process.on('disconnect', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
