// The per-listener greeting pause: canaries for the smtp-server 3.21.6 code it replaces, the defaults per mode, and a real listener that holds its greeting as long as configured.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SMTPServer } from 'smtp-server';
import { SMTPConnection } from 'smtp-server/lib/smtp-connection';
import t from 'tap';
import { validateConfig } from '../../../src/config/load.js';
import { defaultGreetingDelayMs } from '../../../src/inbound/greeting-delay.js';
import { startTestRelay } from '../../support/relay.js';
import { SmtpDialogue } from '../../support/smtp-client.js';

const require = createRequire(import.meta.url);

void t.test('canary: the smtp-server code setGreetingDelay re-implements', async (t) => {
  const pkgPath = require
    .resolve('smtp-server')
    .replace(/dist\/(esm|cjs)\/smtp-server\.js$/, 'package.json');
  const pkg = JSON.parse(await readFile(pkgPath, 'utf8')) as { version: string };
  t.equal(pkg.version, '3.21.6', 'bump only together with greeting-delay.ts and these canaries');
  const squash = (f: { toString(): string }): string => f.toString().replace(/\s+/g, ' ');
  const init = squash(Reflect.get(SMTPConnection.prototype, 'init'));
  t.match(init, 'this._setListeners(() => {', 'init sets the listeners up first');
  t.match(init, 'this._server.options.maxClients && this._server.connections.size >');
  t.match(init, "' Too many connected clients, try again in a moment', false)");
  t.match(init, 'setTimeout(() => this.connectionReady(), 100)', 'the literal 100 ms pause');
  const connect = squash(Reflect.get(SMTPServer.prototype, 'connect'));
  t.match(
    connect,
    'let connection = new SMTPConnection(this, socket, socketOptions); ' +
      'this.connections.add(connection); ' +
      "connection.on('error', err => this._onError(err)); " +
      "connection.on('connect', data => this._onClientConnect(data)); " +
      'connection.init(); }',
    'connect: create, track, forward events, init, nothing else',
  );
});

void t.test(
  'defaults: 100 ms on mta listeners, none on submission ones, explicit kept',
  async (t) => {
    t.equal(defaultGreetingDelayMs('mta'), 100);
    t.equal(defaultGreetingDelayMs('submission'), 0);
    t.equal(defaultGreetingDelayMs('submissions'), 0);
    const dir = await mkdtemp(join(tmpdir(), 'greeting-delay-'));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    const usersFile = join(dir, 'users.txt');
    await writeFile(usersFile, '');
    const result = validateConfig(
      {
        hostname: 'relay.test',
        listeners: [
          { name: 'mta', mode: 'mta', port: 25 },
          { name: 'internal', mode: 'mta', port: 2525, greetingDelayMs: 0 },
          { name: 'submission', mode: 'submission', port: 587 },
          { name: 'submissions', mode: 'submissions', port: 465, greetingDelayMs: 250 },
        ],
        auth: { usersFile },
      },
      dir,
    );
    if (!result.ok) throw new Error(result.errors.join('; '));
    t.same(
      result.config.listeners.map((l) => [l.name, l.greetingDelayMs]),
      [
        ['mta', 100],
        ['internal', 0],
        ['submission', 0],
        ['submissions', 250],
      ],
    );
    const refused = validateConfig(
      { listeners: [{ name: 'mta', greetingDelayMs: -1 }], hostname: 'relay.test' },
      dir,
    );
    t.equal(refused.ok, false, 'a negative pause is refused');
  },
);

/** Connects and, `afterMs` later, sends EHLO without having waited for a greeting. */
async function talkAfter(port: number, afterMs: number): Promise<string[]> {
  const c = await SmtpDialogue.connect(port);
  try {
    if (afterMs > 0) await sleep(afterMs);
    c.write('EHLO early.test\r\n');
    const replies: string[] = [];
    // The greeting (if any came first) and the answer to EHLO, or the refusal alone.
    for (let i = 0; i < 2 && !c.closed; i += 1) {
      const reply = await c.reply().catch(() => undefined);
      if (reply === undefined) break;
      replies.push(reply[0] ?? '');
      if (reply[0]?.startsWith('421')) break;
    }
    return replies;
  } finally {
    c.close();
  }
}

void t.test(
  'a listener holds its greeting for greetingDelayMs, not the library’s 100 ms',
  async (t) => {
    const relay = await startTestRelay({
      listeners: [{ name: 'mta', mode: 'mta', host: '127.0.0.1', port: 0, greetingDelayMs: 3000 }],
    });
    t.teardown(() => relay.close());
    // 400 ms in: past the library's pause, well inside ours.
    t.same(await talkAfter(relay.port, 400), ['421 relay.test You talk too soon']);
  },
);

void t.test('the default mta pause still refuses a client that talks first', async (t) => {
  const relay = await startTestRelay({});
  t.teardown(() => relay.close());
  t.same(await talkAfter(relay.port, 0), ['421 relay.test You talk too soon']);
});

void t.test('greetingDelayMs 0: greeted, and a client that waited is served', async (t) => {
  const relay = await startTestRelay({
    listeners: [{ name: 'mta', mode: 'mta', host: '127.0.0.1', port: 0, greetingDelayMs: 0 }],
  });
  t.teardown(() => relay.close());
  const c = await SmtpDialogue.connect(relay.port);
  t.teardown(() => c.close());
  t.equal(await c.line(), '220 relay.test ESMTP starttls-relay');
  t.equal(await c.send('NOOP'), '250 OK');
  t.equal(await c.send('QUIT'), '221 Bye');
});
