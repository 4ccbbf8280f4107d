// Owns a real DNS server for tests: dnsmasq on 127.0.0.1 (free port) serving MX, null MX, A/AAAA, TXT and raw records (TLSA).
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { promises as dns } from 'node:dns';
import { accessSync, constants } from 'node:fs';
import { createServer, isIP, type AddressInfo } from 'node:net';
import { delimiter, join } from 'node:path';

export interface MxRecord {
  readonly domain: string;
  /** Target host; `.` makes it a null MX (RFC 7505), served by dnsmasq as preference 0, root target. */
  readonly host: string;
  readonly preference: number;
}

export interface HostRecord {
  readonly name: string;
  /** IPv4 and/or IPv6 addresses: A and AAAA records. */
  readonly addresses: readonly string[];
}

export interface DnsZone {
  readonly mx?: readonly MxRecord[];
  readonly hosts?: readonly HostRecord[];
  /**
   * Domains dnsmasq answers for itself (`--local`): a name without records is NXDOMAIN, a missing
   * type NODATA. Names outside them get REFUSED (no upstream), i.e. a temporary failure.
   * Default `['test']`.
   */
  readonly localDomains?: readonly string[];
  /** One TXT record per entry; each string of `strings` is one character-string of the record. */
  readonly txt?: ReadonlyArray<{ readonly name: string; readonly strings: readonly string[] }>;
  /** Raw records: type number and RDATA in hex (dnsmasq `--dns-rr`), e.g. TLSA (52). */
  readonly raw?: ReadonlyArray<{
    readonly name: string;
    readonly type: number;
    readonly hex: string;
  }>;
}

export interface TestDnsServer {
  readonly port: number;
  /** A resolver aimed at this server only; fits `Resolver` of src/routing/mx.ts. */
  readonly resolver: dns.Resolver;
  /** dnsmasq's output so far (started line, errors), for failure messages. */
  output(): string;
  close(): Promise<void>;
}

const READY_NAME = 'dnsmasq-ready.invalid';
const READY_ADDRESS = '127.0.0.9';
const START_ATTEMPTS = 5;
const READY_TIMEOUT_MS = 5000;
const STOP_TIMEOUT_MS = 3000;

/** The dnsmasq binary: on PATH or in the sbin directories, where Debian's dnsmasq-base puts it. */
export function dnsmasqPath(): string | undefined {
  const dirs = [
    ...(process.env.PATH ?? '').split(delimiter),
    '/usr/sbin',
    '/sbin',
    '/usr/local/sbin',
  ];
  for (const dir of dirs) {
    if (dir === '') continue;
    const candidate = join(dir, 'dnsmasq');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Whether tests needing a real DNS server can run (Debian package dnsmasq-base). */
export function hasDnsmasq(): boolean {
  return dnsmasqPath() !== undefined;
}

/** A port on 127.0.0.1 free for both TCP and UDP at the time of asking. */
async function freeDnsPort(): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const tcp = createServer();
    await new Promise<void>((resolve, reject) => {
      tcp.once('error', reject);
      tcp.listen(0, '127.0.0.1', resolve);
    });
    const port = (tcp.address() as AddressInfo).port;
    const udp = createSocket('udp4');
    const udpFree = await new Promise<boolean>((resolve) => {
      udp.once('error', () => resolve(false));
      udp.bind(port, '127.0.0.1', () => resolve(true));
    });
    await new Promise<void>((resolve) => udp.close(() => resolve()));
    await new Promise<void>((resolve) => tcp.close(() => resolve()));
    if (udpFree) return port;
  }
  throw new Error('no port free for both TCP and UDP on 127.0.0.1');
}

function dnsmasqArgs(port: number, zone: DnsZone): string[] {
  const args = [
    '--no-daemon',
    '--no-resolv',
    '--no-hosts',
    '--conf-file=/dev/null',
    '--pid-file=',
    `--port=${port}`,
    '--listen-address=127.0.0.1',
    '--bind-interfaces',
    `--host-record=${READY_NAME},${READY_ADDRESS}`,
  ];
  for (const d of zone.localDomains ?? ['test']) args.push(`--local=/${d}/`);
  for (const mx of zone.mx ?? []) args.push(`--mx-host=${mx.domain},${mx.host},${mx.preference}`);
  for (const h of zone.hosts ?? []) {
    for (const a of h.addresses) {
      if (isIP(a) === 0) throw new Error(`host record ${h.name}: ${a} is not an IP address`);
      args.push(`--host-record=${h.name},${a}`);
    }
  }
  for (const t of zone.txt ?? []) {
    // As raw RDATA (RFC 1035 §3.3.14: length-prefixed strings): --txt-record would split the
    // strings at commas, and keeps quotes given on the command line literally.
    const rdata = t.strings.map((text) => {
      const bytes = Buffer.from(text, 'utf8');
      if (bytes.length > 255) throw new Error(`${t.name}: a TXT string holds 255 octets at most`);
      return Buffer.concat([Buffer.from([bytes.length]), bytes]);
    });
    args.push(`--dns-rr=${t.name},16,${Buffer.concat(rdata).toString('hex')}`);
  }
  for (const r of zone.raw ?? []) args.push(`--dns-rr=${r.name},${r.type},${r.hex}`);
  return args;
}

/** Kills the child (TERM, then KILL) and waits, bounded, for it to exit. */
async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const within = (ms: number) =>
    Promise.race([
      exited.then(() => true),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(false), ms).unref()),
    ]);
  child.kill('SIGTERM');
  if (await within(STOP_TIMEOUT_MS)) return;
  child.kill('SIGKILL');
  await within(STOP_TIMEOUT_MS);
}

/** Every live dnsmasq of this process, killed if the test process exits without teardown. */
const live = new Set<ChildProcess>();
let exitHook = false;
function track(child: ChildProcess): void {
  live.add(child);
  child.once('exit', () => live.delete(child));
  if (!exitHook) {
    exitHook = true;
    process.once('exit', () => {
      for (const c of live) c.kill('SIGKILL');
    });
  }
}

type Started =
  | { readonly ok: true; readonly child: ChildProcess; readonly output: () => string }
  | { readonly ok: false; readonly error: string };

/** Spawns dnsmasq on `port` and waits until it answers the ready record, or exits, or times out. */
async function startOnce(
  binary: string,
  port: number,
  zone: DnsZone,
  resolver: dns.Resolver,
): Promise<Started> {
  const child = spawn(binary, dnsmasqArgs(port, zone), { stdio: ['ignore', 'pipe', 'pipe'] });
  track(child);
  let output = '';
  child.stdout?.on('data', (c: Buffer) => (output += c.toString('utf8')));
  child.stderr?.on('data', (c: Buffer) => (output += c.toString('utf8')));
  let exited = false;
  child.once('exit', () => (exited = true));
  child.once('error', (err) => {
    exited = true;
    output += `spawn error: ${err.message}\n`;
  });

  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline && !exited) {
    try {
      const found = await resolver.resolve4(READY_NAME);
      if (found.includes(READY_ADDRESS)) return { ok: true, child, output: () => output };
    } catch {
      // not listening yet (ECONNREFUSED / ETIMEOUT)
    }
    if (!exited) await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await stop(child);
  // Let the last stderr chunk arrive before reporting it.
  await new Promise((resolve) => setImmediate(resolve));
  return {
    ok: false,
    error: exited
      ? `dnsmasq exited (${child.exitCode ?? child.signalCode}): ${output.trim()}`
      : `dnsmasq did not answer within ${READY_TIMEOUT_MS} ms: ${output.trim()}`,
  };
}

/**
 * Starts dnsmasq serving `zone` on 127.0.0.1 and a free port; retries on another port if the one
 * picked was taken meanwhile. Tear it down with close().
 */
export async function startDnsServer(zone: DnsZone): Promise<TestDnsServer> {
  const binary = dnsmasqPath();
  if (binary === undefined) throw new Error('dnsmasq not found (Debian package dnsmasq-base)');
  const errors: string[] = [];
  for (let attempt = 0; attempt < START_ATTEMPTS; attempt++) {
    const port = await freeDnsPort();
    // Short timeout and a few tries: loopback UDP, but one lost datagram must not fail a test.
    const resolver = new dns.Resolver({ timeout: 500, tries: 4 });
    resolver.setServers([`127.0.0.1:${port}`]);
    const started = await startOnce(binary, port, zone, resolver);
    if (!started.ok) {
      resolver.cancel();
      errors.push(started.error);
      continue;
    }
    const { child } = started;
    let closing: Promise<void> | undefined;
    return {
      port,
      resolver,
      output: started.output,
      close() {
        closing ??= (async () => {
          resolver.cancel();
          await stop(child);
        })();
        return closing;
      },
    };
  }
  throw new Error(`could not start dnsmasq:\n${errors.join('\n')}`);
}
