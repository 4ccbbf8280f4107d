/**
 * @module A real DNS server for the probe tests: dnsmasq on 127.0.0.1 serving MX, A/AAAA, TXT and
 * raw records (TLSA), which test/support/dns-server.ts does not offer.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { promises as dns } from 'node:dns';
import { createServer, isIP, type AddressInfo } from 'node:net';
import { dnsmasqPath, hasDnsmasq } from './dns-server.js';

export { hasDnsmasq };

export interface ProbeZone {
  readonly mx?: ReadonlyArray<{ domain: string; host: string; preference: number }>;
  readonly hosts?: ReadonlyArray<{ name: string; addresses: readonly string[] }>;
  /** One TXT record per entry; each string of `strings` is one character-string of the record. */
  readonly txt?: ReadonlyArray<{ name: string; strings: readonly string[] }>;
  /** Raw records: type number and RDATA in hex (dnsmasq `--dns-rr`). */
  readonly raw?: ReadonlyArray<{ name: string; type: number; hex: string }>;
  /** Domains answered locally (NXDOMAIN for unknown names); default `['test']`. */
  readonly localDomains?: readonly string[];
}

export interface ProbeDnsServer {
  readonly port: number;
  readonly resolver: dns.Resolver;
  output(): string;
  close(): Promise<void>;
}

const READY_NAME = 'probe-dns-ready.invalid';
const READY_ADDRESS = '127.0.0.9';

async function freeDnsPort(): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const tcp = createServer();
    await new Promise<void>((resolve, reject) => {
      tcp.once('error', reject);
      tcp.listen(0, '127.0.0.1', resolve);
    });
    const port = (tcp.address() as AddressInfo).port;
    const udp = createSocket('udp4');
    const free = await new Promise<boolean>((resolve) => {
      udp.once('error', () => resolve(false));
      udp.bind(port, '127.0.0.1', () => resolve(true));
    });
    await new Promise<void>((resolve) => udp.close(() => resolve()));
    await new Promise<void>((resolve) => tcp.close(() => resolve()));
    if (free) return port;
  }
  throw new Error('no port free for both TCP and UDP on 127.0.0.1');
}

function args(port: number, zone: ProbeZone): string[] {
  const list = [
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
  for (const d of zone.localDomains ?? ['test']) list.push(`--local=/${d}/`);
  for (const m of zone.mx ?? []) list.push(`--mx-host=${m.domain},${m.host},${m.preference}`);
  for (const h of zone.hosts ?? []) {
    for (const a of h.addresses) {
      if (isIP(a) === 0) throw new Error(`${h.name}: ${a} is not an address`);
      list.push(`--host-record=${h.name},${a}`);
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
    list.push(`--dns-rr=${t.name},16,${Buffer.concat(rdata).toString('hex')}`);
  }
  for (const r of zone.raw ?? []) list.push(`--dns-rr=${r.name},${r.type},${r.hex}`);
  return list;
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const within = (ms: number): Promise<boolean> =>
    Promise.race([
      exited.then(() => true),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(false), ms).unref()),
    ]);
  child.kill('SIGTERM');
  if (!(await within(3000))) {
    child.kill('SIGKILL');
    await within(3000);
  }
}

/** Starts dnsmasq serving `zone`, retrying on another port if the one picked was taken. */
export async function startProbeDns(zone: ProbeZone): Promise<ProbeDnsServer> {
  const binary = dnsmasqPath();
  if (binary === undefined) throw new Error('dnsmasq not found (Debian package dnsmasq-base)');
  const failures: string[] = [];
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freeDnsPort();
    const resolver = new dns.Resolver({ timeout: 500, tries: 4 });
    resolver.setServers([`127.0.0.1:${port}`]);
    const child = spawn(binary, args(port, zone), { stdio: ['ignore', 'pipe', 'pipe'] });
    const killOnExit = (): void => void child.kill('SIGKILL');
    process.once('exit', killOnExit);
    child.once('exit', () => process.off('exit', killOnExit));
    let output = '';
    child.stdout?.on('data', (c: Buffer) => (output += c.toString('utf8')));
    child.stderr?.on('data', (c: Buffer) => (output += c.toString('utf8')));
    let exited = false;
    child.once('exit', () => (exited = true));
    child.once('error', (err) => {
      exited = true;
      output += `spawn error: ${err.message}\n`;
    });
    const deadline = Date.now() + 5000;
    let ready = false;
    while (!ready && !exited && Date.now() < deadline) {
      try {
        ready = (await resolver.resolve4(READY_NAME)).includes(READY_ADDRESS);
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    if (!ready) {
      await stop(child);
      resolver.cancel();
      failures.push(output.trim());
      continue;
    }
    let closing: Promise<void> | undefined;
    return {
      port,
      resolver,
      output: () => output,
      close() {
        closing ??= (async () => {
          resolver.cancel();
          await stop(child);
        })();
        return closing;
      },
    };
  }
  throw new Error(`could not start dnsmasq:\n${failures.join('\n')}`);
}
