/** @module The probe's report: the data `--json` prints and the table renders, one type per part. */

/**
 * The posture ladder, weakest first (each level includes the ones below it):
 * - `none`: nothing required (a host without STARTTLS is `none`).
 * - `encrypted`: the host offers STARTTLS (RFC 3207 §4) and a TLS handshake completes.
 * - `verified`: plus the certificate chains to a trust anchor and matches the host name
 *   (RFC 6125 §6; an expired certificate fails the chain).
 * - `modern`: plus TLS 1.0 and 1.1 are refused (RFC 8996) and every TLS 1.2 suite the host
 *   accepts has forward secrecy (RFC 9325 §4.2); TLS 1.3 suites always do (RFC 8446 §1.2).
 * A domain's level is its weakest MX host's.
 */
export type Level = 'none' | 'encrypted' | 'verified' | 'modern';
export const LEVELS: readonly Level[] = ['none', 'encrypted', 'verified', 'modern'];

/** The versions the probe tries one by one; SSLv3 is absent from OpenSSL 3, so never tried. */
export type TlsVersion = 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';
export const TLS_VERSIONS: readonly TlsVersion[] = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];

export interface CertificateReport {
  /** `CN=mx.example.org` (every subject attribute, comma-separated). */
  readonly subject: string | null;
  readonly issuer: string | null;
  /** As OpenSSL prints them: `DNS:mx.example.org`, `IP Address:192.0.2.1`. */
  readonly altNames: readonly string[];
  /** ISO 8601. */
  readonly notBefore: string | null;
  readonly notAfter: string | null;
  readonly expired: boolean;
  /** The chain verified against the trust anchors (the name is checked separately). */
  readonly chainValid: boolean;
  /** OpenSSL's reason, e.g. `DEPTH_ZERO_SELF_SIGNED_CERT`, when the chain did not verify. */
  readonly chainError: string | null;
  /** The certificate is valid for the host name probed (RFC 6125 §6; for an MX, RFC 8461 §4.2). */
  readonly nameMatch: boolean;
  readonly nameError: string | null;
  readonly fingerprintSha256: string | null;
}

export interface TlsReport {
  /** What the widest offer (TLS 1.0–1.3, every suite) negotiated: the host's own preference. */
  readonly protocol: string;
  readonly cipher: string;
  /** The ephemeral key exchange, e.g. `X25519` or `DH 2048`; null for RSA key transport. */
  readonly keyExchange: string | null;
  /** true accepted, false refused, null could not tell (the connection failed before TLS). */
  readonly versions: Readonly<Record<TlsVersion, boolean | null>>;
  /** Every TLS 1.2 suite accepted has forward secrecy; true when TLS 1.2 is refused altogether. */
  readonly tls12ForwardSecrecyOnly: boolean | null;
  /** The TLS 1.2 suites without forward secrecy (RSA key transport) it accepted, sorted. */
  readonly tls12NonForwardSecretSuites: readonly string[];
  readonly certificate: CertificateReport;
}

export interface TlsaReport {
  /** `_25._tcp.<mx host>` (RFC 7672 §2.2.3), `_<port>._tcp.<host>` for a host given (RFC 6698 §3). */
  readonly name: string;
  /** `unknown` when the lookup failed (see error). */
  readonly status: 'present' | 'absent' | 'unknown';
  /** `usage selector matching-type hex` per record (RFC 6698 §2.2). */
  readonly records: readonly string[];
  /** The resolver set AD: it validated the answer with DNSSEC (RFC 4035 §3.2.3). */
  readonly dnssec: boolean;
  readonly error: string | null;
}

export interface HostReport {
  readonly name: string;
  /** MX preference; null for an implicit MX or a host given on the command line. */
  readonly preference: number | null;
  readonly port: number;
  /** Every A then AAAA address of the name. */
  readonly addresses: readonly string[];
  /** The address probed (the first one that answered), or null. */
  readonly address: string | null;
  /** An SMTP dialogue completed up to EHLO; false means the host could not be judged. */
  readonly reachable: boolean;
  /** Why the host was unreachable. */
  readonly error: string | null;
  /** The first line of the greeting. */
  readonly banner: string | null;
  /** STARTTLS in the EHLO reply; null when unreachable. */
  readonly starttls: boolean | null;
  /** STARTTLS offered but refused, or the handshake failed. */
  readonly tlsError: string | null;
  readonly tls: TlsReport | null;
  /** null for an address literal: there is no name to look TLSA records up under. */
  readonly tlsa: TlsaReport | null;
  /** null when unreachable. */
  readonly level: Level | null;
  /** Exactly what keeps this host below `modern`, weakest level first. */
  readonly shortfalls: readonly string[];
}

export interface MxReport {
  /**
   * `found`: MX records; `implicit`: none, the domain's own address (RFC 5321 §5.1); `null-mx`:
   * the domain accepts no mail (RFC 7505); `not-found`: no such domain; `dns-error`: lookup
   * failed; `not-looked-up`: a host was given, not a domain.
   */
  readonly status: 'found' | 'implicit' | 'null-mx' | 'not-found' | 'dns-error' | 'not-looked-up';
  readonly error: string | null;
}

/** A TXT record of RFC 8461 §3.1 or RFC 8460 §3. */
export interface TxtRecordReport {
  readonly name: string;
  /** `invalid`: not exactly one record of the version, or a syntax error (see error). */
  readonly status: 'present' | 'absent' | 'invalid' | 'dns-error';
  /** The record's strings joined. */
  readonly text: string | null;
  readonly error: string | null;
}

export interface MtaStsPolicyReport {
  readonly url: string;
  /** `ok`: fetched and valid; `invalid`: fetched, not a valid policy; `error`: not fetched. */
  readonly status: 'ok' | 'invalid' | 'error';
  readonly error: string | null;
  readonly version: string | null;
  readonly mode: 'enforce' | 'testing' | 'none' | null;
  readonly maxAge: number | null;
  readonly mx: readonly string[];
}

export interface MtaStsReport {
  readonly record: TxtRecordReport & { readonly id: string | null };
  /** Fetched only when the record is present (RFC 8461 §3.3); null otherwise. */
  readonly policy: MtaStsPolicyReport | null;
  /** MX hosts no `mx` pattern of a valid policy matches (RFC 8461 §4.1). */
  readonly unmatchedMx: readonly string[];
}

export interface TlsRptReport {
  readonly record: TxtRecordReport;
  /** The `rua` reporting URIs (mailto: or https:). */
  readonly rua: readonly string[];
}

export interface ProbeReport {
  /** As given on the command line. */
  readonly target: string;
  readonly kind: 'domain' | 'host';
  /** The domain (A-labels) for a domain target, else null. */
  readonly domain: string | null;
  readonly mx: MxReport;
  readonly hosts: readonly HostReport[];
  /** null for a host target. */
  readonly mtaSts: MtaStsReport | null;
  readonly tlsRpt: TlsRptReport | null;
  /** The weakest host's level; null when there is no host or one was unreachable. */
  readonly level: Level | null;
  readonly required: Level;
  /** 0 the level meets the requirement, 1 weaker, 2 no MX host or one unreachable. */
  readonly exitCode: 0 | 1 | 2;
}
