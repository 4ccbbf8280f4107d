/**
 * @module The posture levels (defined on `Level` in model.ts): a host's level with exactly what
 * keeps it lower, a domain's level, and the exit code against a required level.
 */
import type { HostReport, Level, MxReport, ProbeReport } from './model.js';
import { LEVELS, TLS_VERSIONS } from './model.js';

export type HostFacts = Omit<HostReport, 'level' | 'shortfalls'>;

export function rank(level: Level): number {
  return LEVELS.indexOf(level);
}

export function isLevel(text: string): text is Level {
  return (LEVELS as readonly string[]).includes(text);
}

/** What each level above `none` misses, in ladder order; a host reaches the last level whose misses, and all below, are none. */
function misses(host: HostFacts): Record<Exclude<Level, 'none'>, string[]> {
  const encrypted: string[] = [];
  const verified: string[] = [];
  const modern: string[] = [];
  if (host.starttls === false) encrypted.push('STARTTLS not offered');
  else if (!host.tls) encrypted.push(`STARTTLS failed: ${host.tlsError ?? 'no handshake'}`);
  const tls = host.tls;
  if (tls) {
    const cert = tls.certificate;
    if (!cert.chainValid)
      verified.push(`certificate chain invalid: ${cert.chainError ?? 'unverified'}`);
    if (!cert.nameMatch) {
      verified.push(`certificate does not match ${host.name}: ${cert.nameError ?? 'no match'}`);
    }
    // RFC 8996: TLS 1.0 and 1.1 are deprecated; RFC 9325 §4.1: not to be negotiated.
    for (const version of TLS_VERSIONS.slice(0, 2)) {
      const accepted = tls.versions[version];
      if (accepted === true) modern.push(`accepts ${version}`);
      else if (accepted === null) modern.push(`could not tell whether ${version} is refused`);
    }
    // RFC 9325 §4.2: only suites with forward secrecy.
    if (tls.tls12ForwardSecrecyOnly === false) {
      modern.push(
        `accepts TLS 1.2 suites without forward secrecy: ${tls.tls12NonForwardSecretSuites.join(', ')}`,
      );
    } else if (tls.tls12ForwardSecrecyOnly === null) {
      modern.push('could not tell whether every TLS 1.2 suite has forward secrecy');
    }
  }
  return { encrypted, verified, modern };
}

/** The host's level and every shortfall below `modern`; null level when unreachable. */
export function hostLevel(host: HostFacts): { level: Level | null; shortfalls: string[] } {
  if (!host.reachable)
    return { level: null, shortfalls: [`unreachable: ${host.error ?? 'unknown'}`] };
  const byLevel = misses(host);
  let level: Level = 'none';
  for (const next of ['encrypted', 'verified', 'modern'] as const) {
    if (byLevel[next].length > 0) break;
    level = next;
  }
  return { level, shortfalls: [...byLevel.encrypted, ...byLevel.verified, ...byLevel.modern] };
}

/** The weakest host's level; null without hosts or with an unreachable one. */
export function domainLevel(hosts: readonly HostReport[]): Level | null {
  if (hosts.length === 0) return null;
  let weakest: Level = 'modern';
  for (const h of hosts) {
    if (h.level === null) return null;
    if (rank(h.level) < rank(weakest)) weakest = h.level;
  }
  return weakest;
}

/** 2: no MX host to judge, or one unreachable; 1: weaker than required; 0: meets it. */
export function exitCode(
  mx: MxReport,
  hosts: readonly HostReport[],
  level: Level | null,
  required: Level,
): ProbeReport['exitCode'] {
  if (mx.status !== 'found' && mx.status !== 'implicit' && mx.status !== 'not-looked-up') return 2;
  if (level === null || hosts.some((h) => !h.reachable)) return 2;
  return rank(level) >= rank(required) ? 0 : 1;
}
