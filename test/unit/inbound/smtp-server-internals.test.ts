// Canaries for the smtp-server 3.21.6 internals the PROXY protocol support replaces: an upgrade that moves them fails here first.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { connect } from 'node:net';
import { SMTPServer } from 'smtp-server';
import t from 'tap';
import { generateSelfSigned } from '../../support/pki.js';

const require = createRequire(import.meta.url);

void t.test('the pinned version and the two methods acceptProxyProtocol replaces', async (t) => {
  const pkgPath = require
    .resolve('smtp-server')
    .replace(/dist\/(esm|cjs)\/smtp-server\.js$/, 'package.json');
  const pkg = JSON.parse(await readFile(pkgPath, 'utf8')) as { version: string };
  t.equal(pkg.version, '3.21.6', 'bump only together with these canaries');
  const pair = await generateSelfSigned(['canary.test']);
  const server = new SMTPServer({ logger: false, ...pair });
  const internals = server as unknown as Record<string, unknown>;
  t.type(internals._handleProxy, 'function');
  t.type(internals._expectsProxyHeader, 'function');
  t.type(internals._acceptSocket, 'function', 'the guard that wraps _handleProxy');
});

void t.test('the connection, server and parser internals connection-guard.ts hooks', async (t) => {
  const pair = await generateSelfSigned(['canary.test']);
  const seen: Record<string, unknown>[] = [];
  const server = new SMTPServer({ logger: false, ...pair });
  const internals = server as unknown as {
    connect(socket: unknown, options: unknown): void;
    connections: Set<Record<string, unknown>>;
  };
  const original = internals.connect.bind(server);
  internals.connect = (socket, options) => {
    original(socket, options);
    for (const c of internals.connections) if (c._socket === socket) seen.push(c);
  };
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.server.address() as { port: number }).port;
  const socket = connect({ port, host: '127.0.0.1' });
  await new Promise((resolve) => socket.once('data', resolve));
  const c = seen[0] ?? {};
  t.equal(seen.length, 1, 'found by its socket right after connect()');
  for (const field of ['_ready', '_upgrading', '_closing', '_closed', 'secure']) {
    t.type(c[field], 'boolean', field);
  }
  t.type(c.remoteAddress, 'string', 'remoteAddress');
  t.type(c._parser, 'object', '_parser');
  t.equal(c._nextHandler, false, '_nextHandler');
  t.equal(c._dataStream, false, '_dataStream');
  t.equal(typeof internals.connect, 'function', 'SMTPServer.connect(socket, options)');
  t.type(
    (server as unknown as Record<string, unknown>).onConnect,
    'function',
    'SMTPServer.onConnect',
  );
  const proto = Object.getPrototypeOf(c) as Record<string, unknown>;
  for (const method of [
    '_createParser',
    '_onCommand',
    '_onTimeout',
    '_whenWritable',
    '_isSupported',
    'upgrade',
    'send',
    'close',
  ]) {
    t.type(proto[method], 'function', `SMTPConnection.${method}`);
  }
  const parser = c._parser as Record<string, unknown>;
  t.type(parser._write, 'function', 'SMTPStream._write');
  t.equal(parser._dataMode, false, 'SMTPStream._dataMode');
  t.equal(parser.isClosed, false, 'SMTPStream.isClosed');
  t.equal(parser._maxCommandLength, 16 * 1024, 'its own limit stays above limits.maxCommandLength');
  // data-scanner.ts replaces the first and calls the other two; it reads and sets the fields.
  for (const method of ['_feedDataStream', '_countDataBytes', '_endDataMode']) {
    t.type(parser[method], 'function', `SMTPStream.${method}`);
  }
  t.equal(parser._lastBytes, false, 'SMTPStream._lastBytes');
  t.equal(parser._atDataStart, false, 'SMTPStream._atDataStart');
  t.equal(parser._dataStream, null, 'SMTPStream._dataStream');
  socket.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});
