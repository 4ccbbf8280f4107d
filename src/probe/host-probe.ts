/**
 * @module One SMTP host probed: its addresses, the first that answers, STARTTLS with the widest
 * offer, then the version and suite scans and its TLSA records.
 */
import type { AddressResolver } from '../routing/addresses.js';
import { resolveAddresses } from '../routing/addresses.js';
import { certificateReport } from './certificate.js';
import { hostLevel, type HostFacts } from './levels.js';
import type { HostReport, TlsaReport, TlsReport } from './model.js';
import { attemptStartTls, type Attempt, type DialogueOptions } from './smtp-starttls.js';
import { scanTls12Suites, scanVersions, WIDEST_OFFER } from './tls-scan.js';

export interface HostTarget {
  readonly name: string;
  readonly preference: number | null;
  readonly port: number;
  /** `_25._tcp.<name>` for an MX (RFC 7672 §2.2.3), `_<port>._tcp.<name>` for a host (RFC 6698 §3). */
  readonly tlsaName: string | null;
}

export interface HostProbeDeps {
  readonly resolver: AddressResolver;
  readonly dialogue: DialogueOptions;
  readonly now: () => Date;
  readonly tlsa: (name: string) => Promise<TlsaReport>;
}

/** The host's report; the TLSA lookup runs beside the SMTP connections. */
export async function probeHost(target: HostTarget, deps: HostProbeDeps): Promise<HostReport> {
  const [tlsa, smtp] = await Promise.all([
    target.tlsaName === null ? null : deps.tlsa(target.tlsaName),
    probeSmtp(target, deps),
  ]);
  const facts: HostFacts = { ...smtp, tlsa };
  return { ...facts, ...hostLevel(facts) };
}

type SmtpFacts = Omit<HostFacts, 'tlsa'>;

async function probeSmtp(target: HostTarget, deps: HostProbeDeps): Promise<SmtpFacts> {
  const base = { name: target.name, preference: target.preference, port: target.port };
  const { addresses, error } = await resolveAddresses(deps.resolver, target.name);
  const unreachable = (
    address: string | null,
    why: string,
    banner: string | null = null,
  ): SmtpFacts => ({
    ...base,
    addresses,
    address,
    reachable: false,
    error: why,
    banner,
    starttls: null,
    tlsError: null,
    tls: null,
  });
  if (addresses.length === 0) return unreachable(null, error ?? 'no address');

  const errors: string[] = [];
  let first: { address: string; attempt: Attempt } | undefined;
  for (const address of addresses) {
    const attempt = await attemptStartTls(
      { name: target.name, address, port: target.port },
      WIDEST_OFFER,
      deps.dialogue,
    );
    if (attempt.kind !== 'unreachable') {
      first = { address, attempt };
      break;
    }
    errors.push(attempt.error);
  }
  if (!first) return unreachable(null, errors.join('; '));
  const { address, attempt } = first;
  const reached = { ...base, addresses, address, reachable: true, error: null };
  switch (attempt.kind) {
    case 'unreachable':
      return unreachable(address, attempt.error);
    case 'smtp-failed':
      return unreachable(address, attempt.error, attempt.banner);
    case 'no-starttls':
      return { ...reached, banner: attempt.banner, starttls: false, tlsError: null, tls: null };
    case 'starttls-refused':
    case 'tls-failed':
      return {
        ...reached,
        banner: attempt.banner,
        starttls: true,
        tlsError: attempt.error,
        tls: null,
      };
    case 'tls': {
      const endpoint = { name: target.name, address, port: target.port };
      const versions = await scanVersions(endpoint, deps.dialogue, attempt.session.protocol);
      const suites =
        versions['TLSv1.2'] === true
          ? await scanTls12Suites(endpoint, deps.dialogue)
          : // TLS 1.2 refused: no TLS 1.2 suite is accepted, so none lacks forward secrecy.
            {
              forwardSecrecyOnly: versions['TLSv1.2'] === false ? true : null,
              nonForwardSecret: [],
            };
      const tls: TlsReport = {
        protocol: attempt.session.protocol,
        cipher: attempt.session.cipher,
        keyExchange: attempt.session.keyExchange,
        versions,
        tls12ForwardSecrecyOnly: suites.forwardSecrecyOnly,
        tls12NonForwardSecretSuites: suites.nonForwardSecret,
        certificate: certificateReport(attempt.session, target.name, deps.now()),
      };
      return { ...reached, banner: attempt.banner, starttls: true, tlsError: null, tls };
    }
  }
}
