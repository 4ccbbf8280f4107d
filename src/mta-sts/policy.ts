/** @module The MTA-STS policy text (RFC 8461 §3.2) parsed, and MX hosts matched against it (§4.1). */

export interface MtaStsPolicy {
  readonly version: string | null;
  readonly mode: 'enforce' | 'testing' | 'none' | null;
  readonly maxAge: number | null;
  readonly mx: readonly string[];
  /** Every reason the policy is invalid; empty when valid. */
  readonly errors: readonly string[];
}

/** RFC 8461 §3.2: max_age is at most 31557600 seconds (about one year). */
const MAX_AGE_LIMIT = 31_557_600;
const MODES = new Set(['enforce', 'testing', 'none']);
const LABEL = '[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?';
const MX_PATTERN = new RegExp(`^(\\*\\.)?${LABEL}(\\.${LABEL})*$`, 'i');

/**
 * `key: value` lines (CRLF-separated per §3.2; bare LF accepted, as senders do). Unknown keys
 * are extensions and ignored; `mx` may repeat; other keys count once, the first.
 */
export function parsePolicy(text: string): MtaStsPolicy {
  const errors: string[] = [];
  const fields = new Map<string, string>();
  const mx: string[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    const m = /^([A-Za-z0-9_.-]+)[ \t]*:[ \t]*(.*?)[ \t]*$/.exec(line);
    if (!m?.[1] || m[2] === undefined) {
      errors.push(`line ${i + 1} is not "key: value"`);
      return;
    }
    if (m[1] === 'mx') mx.push(m[2].toLowerCase());
    else if (!fields.has(m[1])) fields.set(m[1], m[2]);
  });

  const version = fields.get('version') ?? null;
  if (version !== 'STSv1')
    errors.push(version === null ? 'no version' : `version ${version} is not STSv1`);
  const modeText = fields.get('mode') ?? null;
  const mode = modeText !== null && MODES.has(modeText) ? (modeText as MtaStsPolicy['mode']) : null;
  if (mode === null) {
    errors.push(modeText === null ? 'no mode' : `mode ${modeText} is not enforce, testing or none`);
  }
  const ageText = fields.get('max_age') ?? null;
  const maxAge = ageText !== null && /^\d{1,10}$/.test(ageText) ? Number(ageText) : null;
  if (maxAge === null)
    errors.push(ageText === null ? 'no max_age' : `max_age ${ageText} is not a number`);
  else if (maxAge > MAX_AGE_LIMIT) errors.push(`max_age ${maxAge} exceeds ${MAX_AGE_LIMIT}`);
  for (const pattern of mx) {
    if (!MX_PATTERN.test(pattern)) errors.push(`mx ${pattern} is not a host name or *.domain`);
  }
  if (mx.length === 0 && mode !== 'none') errors.push('no mx');
  return { version, mode, maxAge, mx, errors };
}

/**
 * RFC 8461 §4.1: a pattern matches the MX host name exactly, or `*.example.com` matches one
 * leftmost label: `mx.example.com`, not `example.com` nor `a.b.example.com`.
 */
export function mxMatches(pattern: string, host: string): boolean {
  const p = pattern.toLowerCase().replace(/\.$/, '');
  const h = host.toLowerCase().replace(/\.$/, '');
  if (!p.startsWith('*.')) return p === h;
  const dot = h.indexOf('.');
  return dot > 0 && h.slice(dot + 1) === p.slice(2);
}
