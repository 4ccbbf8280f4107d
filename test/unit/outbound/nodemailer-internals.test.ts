// Canaries for the nodemailer 10.6.0 internals the next-hop session relies on: an upgrade that moves them fails here first.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { Readable } from 'node:stream';
import DataStream from 'nodemailer/lib/smtp-connection/data-stream';
import t from 'tap';
import { HopConnection, HopLostError } from '../../../src/outbound/hop-connection.js';
import { startRawHop } from '../../support/raw-hop.js';

const require = createRequire(import.meta.url);

void t.test('the pinned version', async (t) => {
  const pkg = JSON.parse(await readFile(require.resolve('nodemailer/package.json'), 'utf8')) as {
    version: string;
  };
  t.equal(pkg.version, '10.6.0', 'bump only together with these canaries');
});

void t.test('the internals exist where the subclass reaches for them', async (t) => {
  const hop = await startRawHop({ ehlo: ['raw.test', 'SIZE 5000', '8BITMIME', 'SMTPUTF8'] });
  t.teardown(() => hop.close());
  const conn = new HopConnection({
    host: '127.0.0.1',
    port: hop.port,
    name: 'relay.test',
    ignoreTLS: true,
    logger: false,
  });
  const internals = conn as unknown as Record<string, unknown>;
  t.type(internals._sendCommand, 'function');
  t.ok(Array.isArray(internals._responseActions));
  t.ok(
    Array.isArray(internals._responseQueue),
    '_responseQueue: replies received, not yet handled',
  );
  t.equal(internals._remainder, '', '_remainder: a partial reply line');
  await new Promise<void>((resolve, reject) => {
    conn.once('error', reject);
    conn.connect(() => resolve());
  });
  t.ok(internals._socket, '_socket set after connect');
  t.ok(Array.isArray(internals._ehloLines), '_ehloLines set after EHLO');
  t.same(
    [...conn.extensions.entries()],
    [
      ['SIZE', '5000'],
      ['8BITMIME', ''],
      ['SMTPUTF8', ''],
    ],
  );
  t.same(await conn.command('MAIL FROM:<a@b.test>', 5000), { code: 250, lines: ['2.0.0 Ok'] });
  t.same(await conn.command('NOOP', 5000), { code: 250, lines: ['2.0.0 Ok'] });
  await t.rejects(conn.command('NOOP\r\nRSET', 5000), /control character/, 'no command injection');
  const outcome = await conn.data(
    Readable.from([Buffer.from('x\r\n.y\r\n')]),
    'Received: by test\r\n',
    { maxBytes: 1_000_000 },
    { initiation: 5000, final: 5000 },
  );
  t.same(outcome, { kind: 'replied', reply: { code: 250, lines: ['2.0.0 Ok: queued'] }, bytes: 7 });
  t.equal(hop.bodies[0]?.toString(), 'Received: by test\r\nx\r\n..y\r\n');
  conn.close();
  await t.rejects(
    conn.command('NOOP', 5000),
    { name: 'HopLostError', reason: 'closed' },
    'a closed connection rejects at once',
  );
  t.same(hop.commands[0], ['EHLO relay.test', 'MAIL FROM:<a@b.test>', 'NOOP', 'DATA']);
});

void t.test('a command without a reply within its deadline closes the connection', async (t) => {
  const hop = await startRawHop({ replies: { NOOP: '' } });
  t.teardown(() => hop.close());
  const conn = new HopConnection({
    host: '127.0.0.1',
    port: hop.port,
    name: 'relay.test',
    ignoreTLS: true,
    logger: false,
  });
  await new Promise<void>((resolve, reject) => {
    conn.once('error', reject);
    conn.connect(() => resolve());
  });
  conn.on('error', () => undefined);
  const err = await conn.command('RSET', 50).then(
    () => undefined,
    (e: unknown) => e,
  );
  t.equal(err, undefined, 'RSET answered');
  const late = await conn.command('NOOP', 50).then(
    () => 'replied',
    (e: unknown) => (e instanceof HopLostError ? e.reason : 'other'),
  );
  t.equal(late, 'timeout');
  t.notOk(conn.usable);
});

void t.test('DataStream normalises bare CR and LF and stuffs dots (RFC 5321 §4.5.2)', async (t) => {
  const ds = new DataStream();
  const out: Buffer[] = [];
  ds.on('data', (c: Buffer) => out.push(c));
  const done = new Promise((resolve) => ds.on('end', resolve));
  ds.end('a\n.\nb\r.\rc\n.\r\nd\r\n.x\r\n..y');
  await done;
  t.equal(
    Buffer.concat(out).toString(),
    'a\r\n..\r\nb\r\n..\r\nc\r\n..\r\nd\r\n..x\r\n...y\r\n.\r\n',
  );
});
