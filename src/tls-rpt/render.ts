/** @module The CLI's readable view of one day's counts: one row per domain and policy, failures beneath. */
import type { DomainAggregate, FailureDetail } from './model.js';

export interface RenderContext {
  readonly date: string;
  /** Today: the counts are a day so far. */
  readonly today: boolean;
  /** The state directory read, named so an operator knows which instance this is. */
  readonly directory: string;
}

function detailLine(d: FailureDetail): string {
  const parts = [`${d.resultType} x${d.count}`];
  if (d.receivingMxHostname !== undefined) parts.push(`mx ${d.receivingMxHostname}`);
  if (d.receivingIp !== undefined) parts.push(`ip ${d.receivingIp}`);
  if (d.sendingMtaIp !== undefined) parts.push(`from ${d.sendingMtaIp}`);
  if (d.failureReasonCode !== undefined) parts.push(`(${d.failureReasonCode})`);
  return `    ${parts.join('  ')}`;
}

export function renderDayTable(domains: readonly DomainAggregate[], ctx: RenderContext): string {
  const when = `${ctx.date} (UTC${ctx.today ? ', so far' : ''})`;
  if (domains.length === 0) {
    return `TLS-RPT ${when}: no sessions recorded in ${ctx.directory}\n`;
  }
  const header = ['POLICY DOMAIN', 'POLICY', 'SUCCESSFUL', 'FAILED'];
  const rows = domains.flatMap((d) =>
    d.policies.map((p) => ({
      cells: [d.policyDomain, p.policy.type, String(p.successful), String(p.failed)],
      details: [
        ...p.failureDetails.map(detailLine),
        ...(p.detailsDropped > 0
          ? [`    ${p.detailsDropped} more failed sessions (detail rows over the cap)`]
          : []),
      ],
    })),
  );
  const widths = header.map((h, i) =>
    Math.max(h.length, ...rows.map((r) => (r.cells[i] as string).length)),
  );
  const line = (cells: readonly string[]): string =>
    cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] as number))).join('  ');
  const count = `${domains.length} policy domain${domains.length === 1 ? '' : 's'}`;
  return [
    `TLS-RPT ${when}: ${count}, this instance's state in ${ctx.directory}`,
    line(header),
    ...rows.flatMap((r) => [line(r.cells), ...r.details]),
    '',
  ].join('\n');
}
