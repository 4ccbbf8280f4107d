/**
 * @module Which TLS versions a host accepts and whether it accepts TLS 1.2 suites without forward
 * secrecy: one fresh STARTTLS connection per question, a bounded number per host.
 */
import type { TlsVersion } from './model.js';
import { TLS_VERSIONS } from './model.js';
import {
  attemptStartTls,
  type Attempt,
  type DialogueOptions,
  type Endpoint,
  type TlsOffer,
} from './smtp-starttls.js';

/**
 * Every suite OpenSSL has, at security level 0: TLS 1.0 and 1.1 need SHA-1 signatures, and
 * legacy servers small keys, which OpenSSL 3 refuses at its default level 1.
 */
const EVERY_SUITE = 'ALL@SECLEVEL=0';

/** The widest offer, TLS 1.0 to 1.3 with every suite: what the host prefers when free to choose. */
export const WIDEST_OFFER: TlsOffer = {
  minVersion: 'TLSv1',
  maxVersion: 'TLSv1.3',
  ciphers: EVERY_SUITE,
};

/**
 * The TLS 1.2 suites without forward secrecy are those with RSA key transport (`kRSA`): every
 * other key exchange OpenSSL negotiates without a PSK or SRP is ephemeral (EC)DH (RFC 9325 §4.1).
 */
const NON_FORWARD_SECRET = 'kRSA';

/** At most this many non-forward-secret suites are named; one is enough to fail `modern`. */
export const MAX_NAMED_SUITES = 8;

/** true accepted, false refused by the server, null could not tell. */
function verdict(attempt: Attempt): boolean | null {
  if (attempt.kind === 'tls') return true;
  if (attempt.kind === 'tls-failed' && !attempt.local && !attempt.timedOut) return false;
  return null;
}

/** Each version alone; `known` is the version the widest offer already negotiated. */
export async function scanVersions(
  endpoint: Endpoint,
  options: DialogueOptions,
  known: string,
): Promise<Record<TlsVersion, boolean | null>> {
  const result: Record<TlsVersion, boolean | null> = {
    TLSv1: null,
    'TLSv1.1': null,
    'TLSv1.2': null,
    'TLSv1.3': null,
  };
  for (const version of TLS_VERSIONS) {
    if (version === known) {
      result[version] = true;
      continue;
    }
    const offer: TlsOffer = { minVersion: version, maxVersion: version, ciphers: EVERY_SUITE };
    result[version] = verdict(await attemptStartTls(endpoint, offer, options));
  }
  return result;
}

export interface SuiteScan {
  readonly forwardSecrecyOnly: boolean | null;
  readonly nonForwardSecret: readonly string[];
}

/**
 * TLS 1.2 with only the non-forward-secret suites on offer: refused means every suite the host
 * accepts is forward secret. When accepted, the suite is struck from the offer and the next one
 * asked for, to name them all (up to MAX_NAMED_SUITES).
 */
export async function scanTls12Suites(
  endpoint: Endpoint,
  options: DialogueOptions,
): Promise<SuiteScan> {
  const accepted: string[] = [];
  while (accepted.length < MAX_NAMED_SUITES) {
    const ciphers = [NON_FORWARD_SECRET, ...accepted.map((c) => `!${c}`)].join(':');
    const attempt = await attemptStartTls(
      endpoint,
      { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2', ciphers: `${ciphers}@SECLEVEL=0` },
      options,
    );
    if (attempt.kind === 'tls') {
      accepted.push(attempt.session.cipher);
      continue;
    }
    // Refused, or none of the suites left to offer (OpenSSL's list is exhausted): done.
    const done = verdict(attempt) === false || (attempt.kind === 'tls-failed' && attempt.local);
    if (!done && accepted.length === 0) return { forwardSecrecyOnly: null, nonForwardSecret: [] };
    break;
  }
  return { forwardSecrecyOnly: accepted.length === 0, nonForwardSecret: accepted.sort() };
}
