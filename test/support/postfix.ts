/**
 * @module A private Postfix instance as a real next hop: its own config, queue, data and log
 * directories in a temp dir, one smtpd on 127.0.0.1 at a free port, STARTTLS with a given
 * certificate, optional RCPT rejections, and every message delivered as one maildir file.
 * Never touches the system Postfix (see /work/shared/reference/postfix-as-test-peer.md).
 */
import {
  chmod,
  chown,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  readlink,
  rm,
  writeFile,
} from 'node:fs/promises';
import { createServer, connect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { KeyPair } from './pki.js';
import { describeRun, findTool, runTool } from './tools.js';

export interface PostfixOptions {
  /** STARTTLS with this certificate (`smtpd_tls_security_level = may`); none when omitted. */
  readonly tls?: KeyPair;
  /**
   * Recipients refused at RCPT by `check_recipient_access`, address → reply given in the access
   * table, e.g. `{ 'nobody@dest.test': '550 5.1.1 no such user' }` (Postfix prefixes the text
   * with `<address>: Recipient address rejected: `).
   */
  readonly rejectRecipients?: Readonly<Record<string, string>>;
  /** myhostname, in the banner and Received header; default `nexthop.test`. */
  readonly hostname?: string;
  /** Extra main.cf parameters, applied last. */
  readonly mainCf?: Readonly<Record<string, string>>;
}

/** One delivered maildir file (Postfix writes LF line ends). */
export interface DeliveredMessage {
  readonly file: string;
  readonly text: string;
  /** The header block (without the blank line) and the body after it. */
  readonly head: string;
  readonly body: string;
  /** Header fields in order, values as stored (folded lines keep their `\n\t`). */
  readonly headers: ReadonlyArray<{ readonly name: string; readonly value: string }>;
  /** The recipient this copy was delivered to (Postfix's `Delivered-To:`). */
  readonly deliveredTo: string | undefined;
}

export interface PostfixInstance {
  readonly dir: string;
  readonly port: number;
  readonly hostname: string;
  /** Delivered messages so far, in maildir name order (delivery second first). */
  messages(): Promise<DeliveredMessage[]>;
  /** Waits (bounded) until at least `count` messages were delivered and the queue is empty. */
  waitForMessages(count: number, timeoutMs?: number): Promise<DeliveredMessage[]>;
  /** Waits (bounded) until nothing is left in the queue: every accepted message was delivered. */
  waitForEmptyQueue(timeoutMs?: number): Promise<void>;
  maillog(): Promise<string>;
  /** Waits (bounded) until the maillog has at least `count` lines matching `pattern`; returns them. */
  waitForLog(pattern: RegExp, count: number, timeoutMs?: number): Promise<string[]>;
  /** `postfix stop`, waits for every Postfix process of this instance, removes the directory. */
  stop(): Promise<void>;
}

/** The part of a tap test startPostfix uses: teardown, and the maillog shown when it failed. */
export interface PostfixTestHooks {
  teardown(fn: () => unknown): void;
  passing(): boolean;
  comment(...message: unknown[]): void;
}

const MASTER_CF_SERVICES = `
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
`;

/** Queue directories that hold a message between smtpd's 250 and its delivery. */
const QUEUE_DIRS = ['maildrop', 'incoming', 'active', 'deferred', 'hold', 'corrupt'];

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function numericId(flag: '-u' | '-g', user: string): Promise<number> {
  const id = findTool('id');
  if (id === undefined) throw new Error('no id(1) to look up the postfix user');
  const run = await runTool(id, [flag, user], { timeoutMs: 5000 });
  const value = Number(run.stdout.trim());
  if (run.code !== 0 || !Number.isInteger(value))
    throw new Error(describeRun(id, [flag, user], run));
  return value;
}

/** Connects, reads the 220 banner, says QUIT: the smtpd service is really up. */
function greeted(port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    let text = '';
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.on('error', () => done(false));
    socket.on('close', () => done(false));
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      if (/^220 .*\r\n/.test(text)) {
        socket.end('QUIT\r\n');
        done(true);
      } else if (/\r\n/.test(text)) done(false);
    });
  });
}

function parseMessage(file: string, text: string): DeliveredMessage {
  const split = text.indexOf('\n\n');
  const head = split >= 0 ? text.slice(0, split) : text;
  const body = split >= 0 ? text.slice(split + 2) : '';
  const headers: Array<{ name: string; value: string }> = [];
  for (const line of head.split('\n')) {
    const last = headers[headers.length - 1];
    if (/^[ \t]/.test(line) && last) last.value += `\n${line}`;
    else {
      const colon = line.indexOf(':');
      if (colon > 0)
        headers.push({ name: line.slice(0, colon), value: line.slice(colon + 1).trimStart() });
    }
  }
  const deliveredTo = headers.find((h) => h.name.toLowerCase() === 'delivered-to')?.value;
  return { file, text, head, body, headers, deliveredTo };
}

async function countFiles(dir: string): Promise<number> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  let n = 0;
  for (const entry of entries) {
    n += entry.isDirectory() ? await countFiles(join(dir, entry.name)) : 1;
  }
  return n;
}

/** Pids of the processes whose working directory is inside `dir` (Postfix daemons chdir to the queue). */
async function processesIn(dir: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(entry)) continue;
    const cwd = await readlink(`/proc/${entry}/cwd`).catch(() => undefined);
    if (cwd !== undefined && (cwd === dir || cwd.startsWith(`${dir}/`))) pids.push(Number(entry));
  }
  return pids;
}

export async function startPostfix(
  t: PostfixTestHooks,
  options: PostfixOptions = {},
): Promise<PostfixInstance> {
  const postfix = findTool('postfix');
  if (postfix === undefined) throw new Error('postfix is not installed (Debian package postfix)');
  const hostname = options.hostname ?? 'nexthop.test';
  const dir = await mkdtemp(join(tmpdir(), 'postfix-'));
  // Postfix daemons run as the postfix user and must traverse every directory above the queue.
  await chmod(dir, 0o755);
  const etc = join(dir, 'etc');
  const spool = join(dir, 'spool');
  const data = join(dir, 'data');
  const mail = join(dir, 'mail');
  const maillogFile = join(dir, 'maillog');
  const inbox = join(mail, 'sink', 'new');
  const [uid, gid] = await Promise.all([numericId('-u', 'postfix'), numericId('-g', 'postfix')]);
  for (const d of [etc, spool, data, mail]) await mkdir(d, { mode: 0o755 });
  await chown(data, uid, gid);
  await chown(mail, uid, gid);

  const main: Record<string, string> = {
    compatibility_level: '3.6',
    config_directory: etc,
    queue_directory: spool,
    data_directory: data,
    maillog_file: maillogFile,
    maillog_file_prefixes: dir,
    myhostname: hostname,
    mydomain: hostname,
    myorigin: hostname,
    mydestination: '',
    relay_domains: '',
    local_recipient_maps: '',
    alias_maps: '',
    alias_database: '',
    inet_interfaces: '127.0.0.1',
    inet_protocols: 'ipv4',
    smtp_bind_address: '127.0.0.1',
    mynetworks: '127.0.0.0/8',
    smtp_dns_support_level: 'disabled',
    smtp_host_lookup: 'native',
    smtpd_peername_lookup: 'no',
    // Every recipient of every domain lands in one maildir: one file per recipient copy.
    virtual_mailbox_domains: 'static:all',
    virtual_mailbox_base: mail,
    virtual_mailbox_maps: 'static:sink/',
    virtual_uid_maps: `static:${uid}`,
    virtual_gid_maps: `static:${gid}`,
    delay_warning_time: '0',
    queue_run_delay: '5s',
    minimal_backoff_time: '5s',
    maximal_backoff_time: '10s',
    smtpd_timeout: '60s',
    smtp_connect_timeout: '5s',
    smtpd_tls_security_level: 'none',
  };
  if (options.tls) {
    await writeFile(join(etc, 'key.pem'), options.tls.key, { mode: 0o600 });
    await writeFile(join(etc, 'cert.pem'), options.tls.cert, { mode: 0o644 });
    Object.assign(main, {
      smtpd_tls_security_level: 'may',
      smtpd_tls_chain_files: `${join(etc, 'key.pem')}, ${join(etc, 'cert.pem')}`,
      smtpd_tls_received_header: 'yes',
      smtpd_tls_loglevel: '1',
    });
  }
  const rejections = Object.entries(options.rejectRecipients ?? {});
  if (rejections.length > 0) {
    const table = join(etc, 'rcpt_access');
    await writeFile(table, rejections.map(([address, reply]) => `${address} ${reply}\n`).join(''));
    main.smtpd_recipient_restrictions = `check_recipient_access texthash:${table}`;
  }
  Object.assign(main, options.mainCf);
  await writeFile(
    join(etc, 'main.cf'),
    Object.entries(main)
      .map(([name, value]) => `${name} = ${value}\n`)
      .join(''),
  );

  const maillog = (): Promise<string> => readFile(maillogFile, 'utf8').catch(() => '(no maillog)');
  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopped ??= (async () => {
      await runTool(postfix, ['-c', etc, 'stop'], { timeoutMs: 15_000 }).catch(() => undefined);
      // The master is gone; its children notice and exit on their own. Bounded wait, then kill.
      for (let i = 0; i < 50 && (await processesIn(dir)).length > 0; i += 1) await sleep(100);
      for (const pid of await processesIn(dir)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      await rm(dir, { recursive: true, force: true });
    })());
  t.teardown(async () => {
    if (!t.passing()) t.comment(`Postfix maillog (${dir}):\n${await maillog()}`);
    await stop();
  });

  // The port is free when picked, but `postfix start` spends seconds on its integrity checks
  // before the master binds it: if another socket took it meanwhile, start again on a new one.
  const startArgs = ['-c', etc, 'start'];
  let port: number;
  for (let attempt = 1; ; attempt += 1) {
    port = await freePort();
    await writeFile(
      join(etc, 'master.cf'),
      `127.0.0.1:${port} inet n - n - - smtpd\n${MASTER_CF_SERVICES.trimStart()}`,
    );
    const started = await runTool(postfix, startArgs, { timeoutMs: 30_000 });
    if (started.code === 0) break;
    const log = await maillog();
    if (attempt < 3 && log.includes(`fatal: bind 127.0.0.1 port ${port}: Address already in use`)) {
      continue;
    }
    throw new Error(`postfix did not start:\n${describeRun(postfix, startArgs, started)}\n${log}`);
  }
  let up = false;
  for (const deadline = Date.now() + 15_000; !up && Date.now() < deadline;) {
    up = await greeted(port, 2000);
    if (!up) await sleep(100);
  }
  if (!up) throw new Error(`postfix smtpd never greeted on 127.0.0.1:${port}\n${await maillog()}`);

  const messages = async (): Promise<DeliveredMessage[]> => {
    const names = await readdir(inbox).catch(() => [] as string[]);
    // Maildir names start with the delivery time in seconds, then a unique part.
    const files = names.filter((n) => !n.startsWith('.')).sort();
    return Promise.all(
      files.map(async (name) => parseMessage(name, await readFile(join(inbox, name), 'utf8'))),
    );
  };
  const queued = async (): Promise<number> => {
    let n = 0;
    for (const q of QUEUE_DIRS) n += await countFiles(join(spool, q));
    return n;
  };
  const waitForEmptyQueue = async (timeoutMs = 20_000): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    while ((await queued()) > 0) {
      if (Date.now() > deadline) {
        throw new Error(`Postfix queue not empty after ${timeoutMs} ms\n${await maillog()}`);
      }
      await sleep(100);
    }
  };

  return {
    dir,
    port,
    hostname,
    messages,
    waitForEmptyQueue,
    async waitForMessages(count, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      let found = await messages();
      while (found.length < count) {
        if (Date.now() > deadline) {
          throw new Error(
            `Postfix delivered ${found.length} of ${count} messages within ${timeoutMs} ms\n${await maillog()}`,
          );
        }
        await sleep(100);
        found = await messages();
      }
      await waitForEmptyQueue(Math.max(1000, deadline - Date.now()));
      return messages();
    },
    maillog,
    async waitForLog(pattern, count, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      const matching = async (): Promise<string[]> =>
        (await maillog()).split('\n').filter((line) => pattern.test(line));
      let lines = await matching();
      while (lines.length < count) {
        if (Date.now() > deadline) {
          throw new Error(
            `maillog has ${lines.length} of ${count} lines matching ${String(pattern)}`,
          );
        }
        await sleep(100);
        lines = await matching();
      }
      return lines;
    },
    stop,
  };
}
