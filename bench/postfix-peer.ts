/**
 * The Postfix relay peer: a private Postfix instance (test/support/postfix.ts) turned into an
 * opportunistic-TLS relay to the bench sink, with TLS connection reuse, and its processes'
 * CPU and memory read from /proc.
 */
import { appendFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { generateSelfSigned } from '../src/tls/self-signed.js';
import { startPostfix, type PostfixInstance } from '../test/support/postfix.js';
import { findTool, runTool } from '../test/support/tools.js';
import { treeCpuSeconds, treePssMiB } from './proc.js';

export interface PostfixPeer {
  readonly port: number;
  readonly instance: PostfixInstance;
  /** CPU seconds of the master and every daemon it started (reaped ones included). */
  cpuSeconds(): number;
  /** Memory of the master and its live daemons: PSS summed (shared pages split, not repeated). */
  rssMiB(): number;
  /** Waits until nothing is left in its queue. */
  drained(timeoutMs: number): Promise<void>;
  stop(): Promise<void>;
}

/** Why Postfix cannot be measured here, or undefined when it can. */
export function postfixMissing(): string | undefined {
  if (findTool('postfix') === undefined) return 'not installed';
  if (process.getuid?.() !== 0) return 'needs root';
  return undefined;
}

/** tlsproxy carries the TLS sessions that smtp_tls_connection_reuse keeps in scache. */
const TLSPROXY = 'tlsproxy  unix  -       -       n       -       0       tlsproxy\n';

/**
 * Starts the peer: every recipient relayed to `[127.0.0.1]:sinkPort`; with `tls`, STARTTLS
 * offered to clients (a fresh ECDSA P-256 certificate) and used towards the sink, TLS
 * connections to the sink reused (`smtp_tls_connection_reuse`), as at its best in issue #8.
 */
export async function startPostfixPeer(
  sinkPort: number,
  options: { readonly tls: boolean; readonly maxProcesses: number },
): Promise<PostfixPeer> {
  const teardowns: Array<() => unknown> = [];
  const hooks = {
    teardown: (fn: () => unknown) => void teardowns.push(fn),
    passing: () => true,
    comment: () => undefined,
  };
  const pair = options.tls
    ? await generateSelfSigned(['postfix.bench.test', '127.0.0.1'])
    : undefined;
  const instance = await startPostfix(hooks, {
    hostname: 'postfix.bench.test',
    ...(pair ? { tls: pair } : {}),
    mainCf: {
      // No local or virtual delivery: everything goes to the relayhost (the sink).
      virtual_mailbox_domains: '',
      relayhost: `[127.0.0.1]:${sinkPort}`,
      default_transport: 'smtp',
      smtp_tls_security_level: options.tls ? 'may' : 'none',
      smtp_tls_connection_reuse: options.tls ? 'yes' : 'no',
      smtpd_tls_loglevel: '0',
      smtp_tls_loglevel: '0',
      smtpd_tls_received_header: 'no',
      // Enough smtpd processes for every concurrent client session (scenario e).
      default_process_limit: String(options.maxProcesses),
      smtpd_client_connection_count_limit: '0',
      // Postfix's own default (RFC 5321 §4.5.3.2.7): e holds sessions idle while others open.
      smtpd_timeout: '300s',
    },
  });
  const stop = async (): Promise<void> => {
    for (const fn of teardowns.splice(0)) await fn();
  };
  try {
    const etc = join(instance.dir, 'etc');
    const masterPidFile = join(instance.dir, 'spool', 'pid', 'master.pid');
    const masterPid = Number((await readFile(masterPidFile, 'utf8')).trim());
    if (!Number.isInteger(masterPid) || masterPid <= 0) throw new Error('no Postfix master pid');
    if (options.tls) {
      await appendFile(join(etc, 'master.cf'), TLSPROXY);
      const postfix = findTool('postfix') ?? 'postfix';
      const reload = await runTool(postfix, ['-c', etc, 'reload'], { timeoutMs: 15_000 });
      if (reload.code !== 0) throw new Error(`postfix reload failed: ${reload.stderr}`);
      await sleep(1000);
    }
    return {
      port: instance.port,
      instance,
      cpuSeconds: () => treeCpuSeconds(masterPid),
      rssMiB: () => treePssMiB(masterPid),
      drained: (timeoutMs) => instance.waitForEmptyQueue(timeoutMs),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
