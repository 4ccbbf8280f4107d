/** @module The probe report for people (an aligned table) and for machines (`--json`). */
import type {
  HostReport,
  MtaStsReport,
  ProbeReport,
  TlsaReport,
  TlsReport,
  TlsRptReport,
} from './model.js';
import { TLS_VERSIONS } from './model.js';

const KEY_WIDTH = 16;
const DAY_MS = 86_400_000;

export function renderJson(report: ProbeReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}

/** `  key             value`, continuation values under the first. */
function row(indent: string, key: string, values: string | readonly string[]): string[] {
  const list = typeof values === 'string' ? [values] : values;
  const pad = ' '.repeat(KEY_WIDTH);
  return list.map((v, i) => `${indent}${i === 0 ? key.padEnd(KEY_WIDTH) : pad}${v}`.trimEnd());
}

function expiry(notAfter: string | null, now: Date): string {
  if (notAfter === null) return 'unknown';
  const left = Date.parse(notAfter) - now.getTime();
  const days = Math.floor(Math.abs(left) / DAY_MS);
  const unit = `${days} day${days === 1 ? '' : 's'}`;
  return left < 0 ? `${notAfter} (expired ${unit} ago)` : `${notAfter} (${unit} left)`;
}

function tlsRows(host: HostReport, tls: TlsReport, now: Date): string[] {
  const cert = tls.certificate;
  const suites =
    tls.tls12ForwardSecrecyOnly === true
      ? 'forward secret only'
      : tls.tls12ForwardSecrecyOnly === false
        ? `accepts without forward secrecy: ${tls.tls12NonForwardSecretSuites.join(', ')}`
        : 'could not tell';
  return [
    ...row('  ', 'negotiated', [tls.protocol, tls.cipher, tls.keyExchange ?? ''].join(' ').trim()),
    ...TLS_VERSIONS.flatMap((v) => {
      const accepted = tls.versions[v];
      return row('  ', v, accepted === null ? 'could not tell' : accepted ? 'accepted' : 'refused');
    }),
    ...row('  ', 'TLS 1.2 suites', suites),
    ...row(
      '  ',
      'certificate',
      `${cert.subject ?? '(no subject)'}, issued by ${cert.issuer ?? '?'}`,
    ),
    ...row('  ', 'chain', cert.chainValid ? 'valid' : `invalid: ${cert.chainError ?? '?'}`),
    ...row(
      '  ',
      'name',
      cert.nameMatch
        ? `matches ${host.name}`
        : `does not match ${host.name}: ${cert.nameError ?? ''}`,
    ),
    ...row('  ', 'expires', expiry(cert.notAfter, now)),
  ];
}

function tlsaRow(tlsa: TlsaReport | null): string[] {
  if (tlsa === null) return row('  ', 'TLSA', 'not looked up for an address');
  switch (tlsa.status) {
    case 'absent':
      return row('  ', 'TLSA', `none at ${tlsa.name}`);
    case 'unknown':
      return row('  ', 'TLSA', `unknown at ${tlsa.name}: ${tlsa.error ?? ''}`);
    case 'present':
      return row('  ', 'TLSA', [
        `${tlsa.records.length} at ${tlsa.name}${tlsa.dnssec ? ' (DNSSEC validated)' : ' (not DNSSEC validated)'}`,
        ...tlsa.records,
      ]);
  }
}

function hostRows(host: HostReport, now: Date): string[] {
  const address = host.address ?? (host.addresses.join(' ') || 'no address');
  const lines = [
    [
      host.name,
      ...(host.preference === null ? [] : [`MX ${host.preference}`]),
      `${address === host.name ? '' : `${address} `}port ${host.port}`,
    ].join(', '),
  ];
  if (!host.reachable) {
    if (host.banner !== null) lines.push(...row('  ', 'banner', host.banner));
    lines.push(...row('  ', 'unreachable', host.error ?? 'unknown'));
    lines.push(...tlsaRow(host.tlsa));
    return lines;
  }
  lines.push(...row('  ', 'banner', host.banner ?? ''));
  lines.push(
    ...row(
      '  ',
      'STARTTLS',
      host.starttls
        ? host.tlsError
          ? `offered, failed: ${host.tlsError}`
          : 'offered'
        : 'not offered',
    ),
  );
  if (host.tls) lines.push(...tlsRows(host, host.tls, now));
  lines.push(...tlsaRow(host.tlsa));
  lines.push(...row('  ', 'level', host.level ?? 'unknown'));
  if (host.shortfalls.length > 0) lines.push(...row('  ', 'shortfalls', host.shortfalls));
  return lines;
}

function mtaStsRows(m: MtaStsReport): string[] {
  const r = m.record;
  const lines = row(
    '',
    'MTA-STS record',
    r.status === 'present'
      ? `${r.text ?? ''} (${r.name})`
      : `${r.status} (${r.name})${r.error ? `: ${r.error}` : ''}`,
  );
  const p = m.policy;
  if (p) {
    lines.push(
      ...row(
        '',
        'MTA-STS policy',
        p.status === 'error'
          ? `${p.url}: ${p.error ?? ''}`
          : [
              `mode ${p.mode ?? '?'}, max_age ${p.maxAge ?? '?'}, mx ${p.mx.join(' ') || '-'}`,
              ...(p.status === 'invalid' ? [`invalid: ${p.error ?? ''}`] : []),
              ...(m.unmatchedMx.length > 0
                ? [`MX not in the policy: ${m.unmatchedMx.join(', ')}`]
                : []),
            ],
      ),
    );
  }
  return lines;
}

function tlsRptRows(t: TlsRptReport): string[] {
  const r = t.record;
  return row(
    '',
    'TLS-RPT record',
    r.status === 'present'
      ? `${r.text ?? ''} (${r.name})`
      : `${r.status} (${r.name})${r.error ? `: ${r.error}` : ''}`,
  );
}

function verdict(report: ProbeReport): string {
  if (report.exitCode === 0) return 'meets it';
  if (report.exitCode === 1) return 'weaker';
  return report.hosts.length === 0 ? 'no host to probe' : 'could not probe every host';
}

export function renderTable(report: ProbeReport, now: Date): string {
  const lines: string[] = [];
  if (report.kind === 'domain') {
    const mx = report.mx;
    lines.push(
      ...row(
        '',
        'domain',
        `${report.domain ?? report.target}: MX ${mx.status}${mx.error ? ` (${mx.error})` : ''}`,
      ),
    );
  }
  for (const host of report.hosts) lines.push('', ...hostRows(host, now));
  if (report.mtaSts || report.tlsRpt) lines.push('');
  if (report.mtaSts) lines.push(...mtaStsRows(report.mtaSts));
  if (report.tlsRpt) lines.push(...tlsRptRows(report.tlsRpt));
  lines.push(
    '',
    ...row(
      '',
      'level',
      `${report.level ?? 'unknown'} (required ${report.required}): ${verdict(report)}`,
    ),
  );
  return `${lines.join('\n')}\n`;
}
