/** @module SMTP replies as data: the Reply type, its wire form, and parsing a next hop's reply. */

/**
 * One SMTP reply. `lines` hold the text after `NNN-`/`NNN `, enhanced status code included
 * (RFC 3463), one entry per line of a multi-line reply (RFC 5321 §4.2.1).
 */
export interface Reply {
  readonly code: number;
  readonly lines: readonly string[];
}

/** A reply of our own: one line, always with its enhanced status code (RFC 2034). */
export function reply(code: number, enhanced: string, text: string): Reply {
  return { code, lines: [`${enhanced} ${text}`] };
}

/** The reply as it appears on the wire, lines joined with CRLF, without the final CRLF. */
export function wireForm(r: Reply): string {
  const last = r.lines.length - 1;
  return r.lines.map((line, i) => `${r.code}${i === last ? ' ' : '-'}${line}`).join('\r\n');
}

/** The reply as one log-friendly string: `550 5.1.1 No such user`. */
export function replyText(r: Reply): string {
  return `${r.code} ${r.lines.join(' / ')}`;
}

/** The enhanced status code of the reply's first line, when it carries one (RFC 3463 §2). */
export function enhancedCode(r: Reply): string | undefined {
  return /^([245]\.\d{1,3}\.\d{1,3})(?:\s|$)/.exec(r.lines[0] ?? '')?.[1];
}

/**
 * Parses a complete reply as nodemailer hands it over: lines separated by CRLF or LF, each
 * `NNN-text` or `NNN text`. Returns undefined for anything that is not a well-formed reply,
 * so a garbled next hop is treated as lost rather than mirrored.
 */
export function parseReply(raw: string): Reply | undefined {
  const rawLines = raw.split(/\r?\n/).filter((l) => l.length > 0);
  if (rawLines.length === 0) return undefined;
  let code: number | undefined;
  const lines: string[] = [];
  for (const line of rawLines) {
    const m = /^([2-5]\d\d)(?:[ -](.*))?$/.exec(line);
    if (!m) return undefined;
    const lineCode = Number(m[1]);
    if (code !== undefined && lineCode !== code) return undefined;
    code = lineCode;
    lines.push(m[2] ?? '');
  }
  return code === undefined ? undefined : { code, lines };
}
