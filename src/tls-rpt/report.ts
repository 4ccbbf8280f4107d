/**
 * @module The aggregate report of one policy domain over one UTC day: RFC 8460 §4.4 JSON, gzip
 * (§5.2), and its file name (§5.1).
 */
import { gzipSync } from 'node:zlib';
import { dayRange } from './day.js';
import type { DomainAggregate, FailureDetail, TlsRptPolicyType } from './model.js';

/** Who reports: the `organization-name`, `contact-info` and file name `sender` of every report. */
export interface ReporterIdentity {
  readonly organizationName: string;
  /** An email address (or URI) to contact about the reports. */
  readonly contactInfo: string;
  /**
   * The `sender` of the file name: the domain of `contactInfo` (RFC 8460 §5.1). Default: the part
   * after the last `@` of `contactInfo`.
   */
  readonly senderDomain?: string;
  /**
   * Letters and digits telling this instance's reports apart from another's for the same domain
   * and day (the file name's `unique-id`, §5.1, and a suffix of `report-id`). Per-instance stores
   * need one per instance (e.g. the host name without dots); a shared store needs none.
   */
  readonly uniqueId?: string;
}

/** RFC 8460 §4.4, key for key and in the RFC's order. */
export interface TlsRptReportJson {
  readonly 'organization-name': string;
  readonly 'date-range': { readonly 'start-datetime': string; readonly 'end-datetime': string };
  readonly 'contact-info': string;
  readonly 'report-id': string;
  readonly policies: ReadonlyArray<{
    readonly policy: {
      readonly 'policy-type': TlsRptPolicyType;
      readonly 'policy-string'?: readonly string[];
      readonly 'policy-domain': string;
      readonly 'mx-host'?: readonly string[];
    };
    readonly summary: {
      readonly 'total-successful-session-count': number;
      readonly 'total-failure-session-count': number;
    };
    readonly 'failure-details': ReadonlyArray<{
      readonly 'result-type': string;
      readonly 'sending-mta-ip'?: string;
      readonly 'receiving-mx-hostname'?: string;
      readonly 'receiving-ip'?: string;
      readonly 'failed-session-count': number;
      readonly 'failure-reason-code'?: string;
    }>;
  }>;
}

export function senderDomain(identity: ReporterIdentity): string {
  if (identity.senderDomain !== undefined) return identity.senderDomain;
  const at = identity.contactInfo.lastIndexOf('@');
  return identity.contactInfo.slice(at + 1).replace(/^mailto:/i, '');
}

function uniqueIdOf(identity: ReporterIdentity): string | undefined {
  const id = identity.uniqueId?.replace(/[^A-Za-z0-9]/g, '');
  return id === undefined || id === '' ? undefined : id;
}

function detailJson(
  d: FailureDetail,
): TlsRptReportJson['policies'][number]['failure-details'][number] {
  return {
    'result-type': d.resultType,
    ...(d.sendingMtaIp !== undefined ? { 'sending-mta-ip': d.sendingMtaIp } : {}),
    ...(d.receivingMxHostname !== undefined
      ? { 'receiving-mx-hostname': d.receivingMxHostname }
      : {}),
    ...(d.receivingIp !== undefined ? { 'receiving-ip': d.receivingIp } : {}),
    'failed-session-count': d.count,
    ...(d.failureReasonCode !== undefined ? { 'failure-reason-code': d.failureReasonCode } : {}),
  };
}

/**
 * The report for `aggregate` over `date`. `report-id` is `<start-datetime>_<policy-domain>`,
 * plus `_<unique-id>`: the same day and domain always get the same id, so a receiver can tell a
 * resubmission from a new report (§4.4 leaves the scheme to the sender).
 */
export function buildReport(
  aggregate: DomainAggregate,
  date: string,
  identity: ReporterIdentity,
): TlsRptReportJson {
  const range = dayRange(date);
  const unique = uniqueIdOf(identity);
  return {
    'organization-name': identity.organizationName,
    'date-range': { 'start-datetime': range.startDatetime, 'end-datetime': range.endDatetime },
    'contact-info': identity.contactInfo,
    'report-id': `${range.startDatetime}_${aggregate.policyDomain}${unique ? `_${unique}` : ''}`,
    policies: aggregate.policies.map((p) => ({
      policy: {
        'policy-type': p.policy.type,
        ...(p.policy.string !== undefined ? { 'policy-string': p.policy.string } : {}),
        'policy-domain': aggregate.policyDomain,
        ...(p.policy.mxHost !== undefined ? { 'mx-host': p.policy.mxHost } : {}),
      },
      summary: {
        'total-successful-session-count': p.successful,
        'total-failure-session-count': p.failed,
      },
      'failure-details': p.failureDetails.map(detailJson),
    })),
  };
}

/** §5.1: `sender!policy-domain!begin-timestamp!end-timestamp[!unique-id].json.gz`. */
export function reportFileName(
  policyDomain: string,
  date: string,
  identity: ReporterIdentity,
): string {
  const range = dayRange(date);
  const unique = uniqueIdOf(identity);
  return (
    `${senderDomain(identity)}!${policyDomain}!${range.beginTimestamp}!${range.endTimestamp}` +
    `${unique ? `!${unique}` : ''}.json.gz`
  );
}

/** §5.2: the JSON, gzip compressed. */
export function gzipReport(report: TlsRptReportJson): Buffer {
  return gzipSync(Buffer.from(JSON.stringify(report), 'utf8'));
}
