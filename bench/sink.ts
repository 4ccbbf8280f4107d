/** Bench child: an smtp-server sink with STARTTLS (ECDSA) that counts and drains what it receives. */
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { generateSelfSigned } from '../src/tls/self-signed.js';
import { isParentMessage, tellParent } from './ipc.js';

const { key, cert } = await generateSelfSigned(['sink.bench.test', '127.0.0.1']);
let delivered = 0;
let connections = 0;
let bytes = 0;

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
      callback(null, `2.0.0 Ok: queued as S${delivered}`);
    });
  },
});
server.on('error', () => undefined);

server.listen(0, '127.0.0.1', () => {
  tellParent({ kind: 'ready', port: (server.server.address() as AddressInfo).port });
});

process.on('message', (m: unknown) => {
  if (isParentMessage(m) && m.kind === 'stats') {
    tellParent({ kind: 'stats', delivered, connections, bytes });
  }
});
process.on('disconnect', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
