/**
 * @module The whole probe of a target: MX lookup, every host probed side by side, MTA-STS and
 * TLS-RPT for a domain, then the level and the exit code.
 */
import type { promises as dns } from 'node:dns';
import { isIP } from 'node:net';
import { lookupMx } from '../routing/mx.js';
import { lookupTlsRpt } from './dns-records.js';
import { probeHost, type HostTarget } from './host-probe.js';
import { domainLevel, exitCode } from './levels.js';
import type { Level, MxReport, ProbeReport } from './model.js';
import { probeMtaSts } from './mta-sts.js';
import type { DialogueOptions } from './smtp-starttls.js';
import type { Target } from './target.js';
import { lookupTlsa } from './tlsa.js';

/** Every DNS call the probe makes; node:dns's Resolver fits, tests aim one at a local server. */
export type ProbeResolver = Pick<
  dns.Resolver,
  'resolveMx' | 'resolve4' | 'resolve6' | 'resolveTxt' | 'getServers'
>;

export interface ProbeSettings {
  readonly resolver: ProbeResolver;
  /** The port MX hosts are probed on: 25 (tests move it). */
  readonly smtpPort: number;
  /** The MTA-STS policy host's port: 443 (tests move it). */
  readonly httpsPort: number;
  readonly dialogue: DialogueOptions;
  /** Each DNS query for TLSA records, per server. */
  readonly dnsTimeoutMs: number;
  readonly now: () => Date;
  readonly required: Level;
}

/** RFC 7672 §2.2.3: an MX's TLSA records are at `_25._tcp.<mx>`, whatever port tests use. */
const MX_TLSA_PORT = 25;

async function mxHosts(
  domain: string,
  settings: ProbeSettings,
): Promise<{ mx: MxReport; hosts: HostTarget[] }> {
  const result = await lookupMx(settings.resolver, domain);
  switch (result.kind) {
    case 'null-mx':
      return { mx: { status: 'null-mx', error: null }, hosts: [] };
    case 'not-found':
      return { mx: { status: 'not-found', error: `no MX or address for ${domain}` }, hosts: [] };
    case 'temporary':
      return { mx: { status: 'dns-error', error: result.error }, hosts: [] };
    case 'hosts': {
      const hosts = [...result.hosts]
        .sort((a, b) => (a.preference ?? 0) - (b.preference ?? 0) || a.name.localeCompare(b.name))
        .map((h) => ({
          name: h.name,
          preference: h.preference,
          port: settings.smtpPort,
          tlsaName: `_${MX_TLSA_PORT}._tcp.${h.name}`,
        }));
      const implicit = hosts.length === 1 && hosts[0]?.preference === null;
      return { mx: { status: implicit ? 'implicit' : 'found', error: null }, hosts };
    }
  }
}

export async function probe(
  text: string,
  target: Target,
  settings: ProbeSettings,
): Promise<ProbeReport> {
  const hostDeps = {
    resolver: settings.resolver,
    dialogue: settings.dialogue,
    now: settings.now,
    tlsa: (name: string) => lookupTlsa(name, settings.resolver.getServers(), settings.dnsTimeoutMs),
  };
  if (target.kind === 'host') {
    const port = target.port ?? settings.smtpPort;
    const host = await probeHost(
      {
        name: target.host,
        preference: null,
        port,
        tlsaName: isIP(target.host) === 0 ? `_${port}._tcp.${target.host}` : null,
      },
      hostDeps,
    );
    const mx: MxReport = { status: 'not-looked-up', error: null };
    const level = domainLevel([host]);
    return {
      target: text,
      kind: 'host',
      domain: null,
      mx,
      hosts: [host],
      mtaSts: null,
      tlsRpt: null,
      level,
      required: settings.required,
      exitCode: exitCode(mx, [host], level, settings.required),
    };
  }

  const domain = target.domain;
  const policyDeps = {
    resolver: settings.resolver,
    httpsPort: settings.httpsPort,
    ca: settings.dialogue.ca,
    timeoutMs: settings.dialogue.timeoutMs,
  };
  const tlsRpt = lookupTlsRpt(settings.resolver, domain);
  const { mx, hosts: targets } = await mxHosts(domain, settings);
  const [hosts, mtaSts] = await Promise.all([
    Promise.all(targets.map((t) => probeHost(t, hostDeps))),
    probeMtaSts(
      domain,
      targets.map((t) => t.name),
      policyDeps,
    ),
  ]);
  const level = domainLevel(hosts);
  return {
    target: text,
    kind: 'domain',
    domain,
    mx,
    hosts,
    mtaSts,
    tlsRpt: await tlsRpt,
    level,
    required: settings.required,
    exitCode: exitCode(mx, hosts, level, settings.required),
  };
}
