/** @module The server certificate's facts: subject, validity dates, chain and name (RFC 6125 §6). */
import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import type { CertificateReport } from './model.js';
import type { TlsSession } from './smtp-starttls.js';

/** `CN=mx.example.org, O=Example` from Node's parsed name object. */
export function distinguishedName(name: PeerCertificate['subject'] | undefined): string | null {
  if (!name || typeof name !== 'object') return null;
  const parts: string[] = [];
  for (const [key, value] of Object.entries(name as unknown as Record<string, unknown>)) {
    const values: unknown[] = Array.isArray(value) ? value : [value];
    for (const v of values) if (typeof v === 'string') parts.push(`${key}=${v}`);
  }
  return parts.length > 0 ? parts.join(', ') : null;
}

function isoDate(text: string | undefined): string | null {
  if (!text) return null;
  const date = new Date(text);
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}

/** The certificate of `session` judged for `name` (the MX host name, or the host given) at `now`. */
export function certificateReport(session: TlsSession, name: string, now: Date): CertificateReport {
  const cert = session.peer;
  if (!cert) {
    return {
      subject: null,
      issuer: null,
      altNames: [],
      notBefore: null,
      notAfter: null,
      expired: false,
      chainValid: false,
      chainError: session.chainError ?? 'no certificate',
      nameMatch: false,
      nameError: 'no certificate',
      fingerprintSha256: null,
    };
  }
  const notAfter = isoDate(cert.valid_to);
  const mismatch = checkServerIdentity(name, cert) as (Error & { reason?: string }) | undefined;
  return {
    subject: distinguishedName(cert.subject),
    issuer: distinguishedName(cert.issuer),
    altNames: cert.subjectaltname ? cert.subjectaltname.split(/,\s*/) : [],
    notBefore: isoDate(cert.valid_from),
    notAfter,
    expired: notAfter !== null && Date.parse(notAfter) < now.getTime(),
    chainValid: session.chainValid,
    chainError: session.chainError,
    nameMatch: mismatch === undefined,
    nameError: mismatch === undefined ? null : (mismatch.reason ?? mismatch.message).trim(),
    fingerprintSha256: cert.fingerprint256 || null,
  };
}
