/**
 * @module The Grafana dashboard of starttls-relay, built with the Grafana foundation SDK's typed
 * builders. `npx tsx deploy/grafana/dashboard.ts` writes starttls-relay.json beside it;
 * test/deploy/grafana-dashboard.test.ts fails when the committed JSON drifts from this file.
 */
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import {
  BigValueColorMode,
  BigValueGraphMode,
  LegendDisplayMode,
  LegendPlacement,
  ReduceDataOptionsBuilder,
  StackingConfigBuilder,
  StackingMode,
  VizLegendOptionsBuilder,
  type DataSourceRef,
} from '@grafana/grafana-foundation-sdk/common';
import {
  DashboardBuilder,
  DashboardCursorSync,
  DatasourceVariableBuilder,
  QueryVariableBuilder,
  RowBuilder,
  ThresholdsConfigBuilder,
  ThresholdsMode,
  VariableRefresh,
  VariableSort,
  type Dashboard,
} from '@grafana/grafana-foundation-sdk/dashboard';
import { DataqueryBuilder } from '@grafana/grafana-foundation-sdk/prometheus';
import { PanelBuilder as StatBuilder } from '@grafana/grafana-foundation-sdk/stat';
import { PanelBuilder as TimeseriesBuilder } from '@grafana/grafana-foundation-sdk/timeseries';
import { format, resolveConfig } from 'prettier';

export const DASHBOARD_FILE = fileURLToPath(new URL('starttls-relay.json', import.meta.url));

const DATASOURCE: DataSourceRef = { type: 'prometheus', uid: '${datasource}' };
const M = 'starttls_relay_';
/** The selector every query starts from: the chosen jobs and instances. */
const SEL = 'job=~"$job", instance=~"$instance"';
const LISTENER = `${SEL}, listener=~"$listener"`;
const RATE = '[$__rate_interval]';

const rate = (metric: string, matchers: string): string =>
  `rate(${M}${metric}{${matchers}}${RATE})`;

/**
 * A 0–1 ratio whose numerator reads 0, not no data, when none of its series exist yet (no TLS
 * message at all): `(sum(num) or 0 * sum(all)) / sum(all)`, numerator and denominator summed
 * separately (never an average of ratios).
 */
function ratio(by: string, numerator: string, denominator: string): string {
  const sum = (e: string): string => `sum${by === '' ? '' : ` by (${by})`} (${e})`;
  return `(${sum(numerator)} or 0 * ${sum(denominator)}) / ${sum(denominator)}`;
}

/** The same ratio over the dashboard's whole time range, for a stat. */
function rangeRatio(metric: string, matchers: string, numerator: string): string {
  const inc = (m: string): string => `increase(${M}${metric}{${m}}[$__range])`;
  return ratio('', inc(`${matchers}, ${numerator}`), inc(matchers));
}

function query(expr: string, legend: string, refId = 'A'): DataqueryBuilder {
  return new DataqueryBuilder().expr(expr).legendFormat(legend).refId(refId).datasource(DATASOURCE);
}

function targets(panel: TimeseriesBuilder, queries: DataqueryBuilder[]): TimeseriesBuilder {
  return panel.targets(queries.map((q, i) => q.refId(String.fromCharCode(65 + i))));
}

function timeseries(
  title: string,
  description: string,
  unit: string,
  queries: DataqueryBuilder[],
): TimeseriesBuilder {
  const panel = new TimeseriesBuilder()
    .title(title)
    .description(description)
    .datasource(DATASOURCE)
    .unit(unit)
    .height(8)
    .span(12)
    .fillOpacity(10)
    .legend(
      new VizLegendOptionsBuilder()
        .displayMode(LegendDisplayMode.Table)
        .placement(LegendPlacement.Bottom)
        .showLegend(true)
        .calcs(['mean', 'lastNotNull']),
    );
  if (unit === 'percentunit') panel.min(0).max(1);
  else panel.min(0);
  return targets(panel, queries);
}

function stacked(panel: TimeseriesBuilder): TimeseriesBuilder {
  return panel.stacking(new StackingConfigBuilder().mode(StackingMode.Normal));
}

/** Red below `red`, orange below `orange`, green above. */
function lowIsBad(red: number, orange: number): ThresholdsConfigBuilder {
  return new ThresholdsConfigBuilder().mode(ThresholdsMode.Absolute).steps([
    { value: null, color: 'red' },
    { value: red, color: 'orange' },
    { value: orange, color: 'green' },
  ]);
}

function stat(
  title: string,
  description: string,
  unit: string,
  expr: string,
  thresholds: ThresholdsConfigBuilder,
): StatBuilder {
  const panel = new StatBuilder()
    .title(title)
    .description(description)
    .datasource(DATASOURCE)
    .unit(unit)
    .height(5)
    .span(4)
    .thresholds(thresholds)
    .colorMode(BigValueColorMode.Background)
    .graphMode(BigValueGraphMode.None)
    .reduceOptions(new ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false))
    .withTarget(query(expr, '').instant());
  if (unit === 'percentunit') panel.min(0).max(1).decimals(1);
  return panel;
}

function variables(dashboard: DashboardBuilder): DashboardBuilder {
  const fromVariable = (name: string, label: string, q: string): QueryVariableBuilder =>
    new QueryVariableBuilder(name)
      .label(label)
      .datasource(DATASOURCE)
      .query(q)
      .definition(q)
      .refresh(VariableRefresh.OnTimeRangeChanged)
      .sort(VariableSort.AlphabeticalAsc)
      .multi(true)
      .includeAll(true)
      .allValue('.*');
  return dashboard
    .withVariable(
      new DatasourceVariableBuilder('datasource').label('Data source').type('prometheus'),
    )
    .withVariable(
      fromVariable('job', 'Job', `label_values(${M}certificate_expiry_timestamp_seconds, job)`),
    )
    .withVariable(
      fromVariable(
        'instance',
        'Instance',
        `label_values(${M}certificate_expiry_timestamp_seconds{job=~"$job"}, instance)`,
      ),
    )
    .withVariable(
      fromVariable(
        'listener',
        'Listener',
        `label_values(${M}inbound_active_sessions{${SEL}}, listener)`,
      ),
    );
}

function coverageRow(dashboard: DashboardBuilder): DashboardBuilder {
  const coverage = lowIsBad(0.9, 0.99);
  return dashboard
    .withRow(new RowBuilder('TLS coverage'))
    .withPanel(
      stat(
        'Inbound messages over TLS',
        'Messages received over TLS, of all messages relayed, over the time range.',
        'percentunit',
        rangeRatio('hop_tls_messages_total', `${SEL}, hop="inbound"`, 'tls_version!="none"'),
        coverage,
      ),
    )
    .withPanel(
      stat(
        'Outbound messages over TLS',
        'Messages handed to the next hop over TLS, of all messages relayed, over the time range.',
        'percentunit',
        rangeRatio('hop_tls_messages_total', `${SEL}, hop="outbound"`, 'tls_version!="none"'),
        coverage,
      ),
    )
    .withPanel(
      stat(
        'Inbound sessions with TLS',
        'Inbound SMTP sessions that reached TLS, of all sessions (scanners that never STARTTLS count too).',
        'percentunit',
        rangeRatio('inbound_sessions_total', LISTENER, 'tls_version!="none"'),
        coverage,
      ),
    )
    .withPanel(
      stat(
        'Next-hop sessions encrypted',
        'Next-hop sessions whose STARTTLS succeeded, of all next-hop sessions.',
        'percentunit',
        rangeRatio('outbound_starttls_total', SEL, 'result="encrypted"'),
        coverage,
      ),
    )
    .withPanel(
      stat(
        'Plaintext fallbacks',
        'Next-hop sessions that failed STARTTLS and continued in plaintext over the time range: downgrades.',
        'short',
        `sum(increase(${M}outbound_starttls_total{${SEL}, result="failed_fallback"}[$__range])) or vector(0)`,
        new ThresholdsConfigBuilder().mode(ThresholdsMode.Absolute).steps([
          { value: null, color: 'green' },
          { value: 1, color: 'orange' },
        ]),
      ),
    )
    .withPanel(
      stat(
        'Certificate expires in',
        'Time left before the served certificate that expires first (alert below 14 days).',
        's',
        `min(${M}certificate_expiry_timestamp_seconds{${SEL}}) - time()`,
        lowIsBad(14 * 86400, 30 * 86400),
      ),
    )
    .withPanel(
      timeseries(
        'TLS coverage by message, per hop',
        'Messages relayed over TLS, of all messages, on the inbound and the outbound hop.',
        'percentunit',
        [
          query(
            ratio(
              'hop',
              rate('hop_tls_messages_total', `${SEL}, tls_version!="none"`),
              rate('hop_tls_messages_total', SEL),
            ),
            '{{hop}}',
          ),
        ],
      ),
    )
    .withPanel(
      timeseries(
        'TLS coverage by session',
        'Inbound sessions that reached TLS, per listener; next-hop sessions that were encrypted.',
        'percentunit',
        [
          query(
            ratio(
              'listener',
              rate('inbound_sessions_total', `${LISTENER}, tls_version!="none"`),
              rate('inbound_sessions_total', LISTENER),
            ),
            'inbound {{listener}}',
          ),
          query(
            ratio(
              '',
              rate('outbound_starttls_total', `${SEL}, result="encrypted"`),
              rate('outbound_starttls_total', SEL),
            ),
            'outbound',
          ),
        ],
      ),
    )
    .withPanel(
      timeseries(
        'Verified peer certificates, per hop',
        'Messages whose peer certificate was verified: outbound, the next hop chain and name; inbound, a client certificate.',
        'percentunit',
        [
          query(
            ratio(
              'hop',
              rate('hop_tls_messages_total', `${SEL}, verified="true"`),
              rate('hop_tls_messages_total', SEL),
            ),
            '{{hop}}',
          ),
        ],
      ),
    );
}

function censusRow(dashboard: DashboardBuilder): DashboardBuilder {
  return dashboard
    .withRow(new RowBuilder('TLS census'))
    .withPanel(
      stacked(
        timeseries(
          'Inbound TLS handshakes by version and forward secrecy',
          'Completed inbound handshakes. Cipher suites are in the transaction log (inboundTls.cipher), not in metrics.',
          'cps',
          [
            query(
              `sum by (tls_version, forward_secrecy) (${rate('inbound_tls_handshakes_total', LISTENER)})`,
              '{{tls_version}} forward secrecy {{forward_secrecy}}',
            ),
          ],
        ),
      ),
    )
    .withPanel(
      timeseries(
        'Inbound TLS handshake failures by reason',
        'protocol_version: the client offers only versions below tls.minVersion; no_shared_cipher: only suites we refuse. The clients our policy locks out.',
        'cps',
        [
          query(
            `sum by (listener, reason) (${rate('inbound_tls_handshake_failures_total', LISTENER)})`,
            '{{listener}} {{reason}}',
          ),
        ],
      ),
    )
    .withPanel(
      stacked(
        timeseries(
          'Messages by hop and TLS version',
          'Messages relayed, by the TLS version of each hop (none: plaintext).',
          'cps',
          [
            query(
              `sum by (hop, tls_version) (${rate('hop_tls_messages_total', SEL)})`,
              '{{hop}} {{tls_version}}',
            ),
          ],
        ),
      ),
    );
}

function starttlsRow(dashboard: DashboardBuilder): DashboardBuilder {
  return dashboard
    .withRow(new RowBuilder('STARTTLS and downgrades'))
    .withPanel(
      stacked(
        timeseries(
          'Next-hop STARTTLS outcomes',
          'encrypted; not_offered (no STARTTLS in EHLO: plaintext-only or stripped); failed_fallback (refused or broken handshake, continued in plaintext); disabled (route tls: none); failed_deferred and policy_refused (closed before any mail by an enforced policy).',
          'cps',
          [query(`sum by (result) (${rate('outbound_starttls_total', SEL)})`, '{{result}}')],
        ),
      ),
    )
    .withPanel(
      timeseries(
        'Plaintext fallbacks and STARTTLS not offered, share of next-hop sessions',
        'failed_fallback is the downgrade alert signal; not_offered rising on next hops that used to offer STARTTLS suggests stripping.',
        'percentunit',
        [
          query(
            `sum by (result) (${rate('outbound_starttls_total', `${SEL}, result=~"failed_fallback|not_offered"`)}) / ignoring (result) group_left sum (${rate('outbound_starttls_total', SEL)})`,
            '{{result}}',
          ),
        ],
      ),
    )
    .withPanel(
      stacked(
        timeseries(
          'Downgrades against TLS history',
          'Next-hop sessions below the best TLS their destination reached before, by reason; the TLS downgrade log lines name the destination.',
          'cps',
          [query(`sum by (reason) (${rate('tls_downgrades_total', SEL)})`, '{{reason}}')],
        ),
      ),
    )
    .withPanel(
      timeseries(
        'TLS policy: failed checks and refused recipients',
        'Sessions failing a policy check (enforced: closed before any mail; report-only: what a stricter policy would refuse) and recipients refused with 451 4.7.5 or 550 5.7.30.',
        'cps',
        [
          query(
            `sum by (policy, enforced) (${rate('outbound_policy_failures_total', SEL)})`,
            'failed {{policy}} enforced={{enforced}}',
          ),
          query(
            `sum by (policy) (${rate('policy_refused_recipients_total', SEL)})`,
            'refused {{policy}}',
          ),
        ],
      ),
    )
    .withPanel(
      stacked(
        timeseries(
          'Outbound TLS failures by RFC 8460 result type',
          'Why next-hop sessions fell short of TLS or of their policy: starttls-not-supported, certificate-host-mismatch, certificate-expired, certificate-not-trusted, validation-failure.',
          'cps',
          [
            query(
              `sum by (result_type) (${rate('outbound_tls_failures_total', SEL)})`,
              '{{result_type}}',
            ),
          ],
        ),
      ),
    );
}

function nextHopRow(dashboard: DashboardBuilder): DashboardBuilder {
  const quantile = (q: string): DataqueryBuilder =>
    query(
      `histogram_quantile(${q}, sum by (le) (${rate('relay_duration_seconds_bucket', SEL)}))`,
      `p${Number(q) * 100}`,
    );
  return dashboard
    .withRow(new RowBuilder('Next hop'))
    .withPanel(
      timeseries(
        'Next-hop connection attempts',
        'Addresses that could not be reached or set up, and next-hop sessions opened (one STARTTLS result each). failedAttempts in the transaction log names them.',
        'cps',
        [
          query(`sum (${rate('outbound_connect_failures_total', SEL)})`, 'failed addresses'),
          query(`sum (${rate('outbound_starttls_total', SEL)})`, 'sessions opened'),
        ],
      ),
    )
    .withPanel(
      stacked(
        timeseries(
          'Messages by outcome',
          'delivered (next hop 2xx), rejected (5xx), deferred (4xx or next hop lost), aborted (client vanished).',
          'cps',
          [query(`sum by (outcome) (${rate('messages_total', SEL)})`, '{{outcome}}')],
        ),
      ),
    )
    .withPanel(
      timeseries(
        'Relay duration',
        'From MAIL to the final reply, for transactions that reached DATA.',
        's',
        [quantile('0.5'), quantile('0.95'), quantile('0.99')],
      ),
    )
    .withPanel(
      stacked(
        timeseries(
          'Recipients by outcome and source',
          'next_hop: the next hop decided (its reply mirrored); relay: the relay itself (relay denied, too many recipients).',
          'cps',
          [
            query(
              `sum by (outcome, source) (${rate('recipients_total', SEL)})`,
              '{{outcome}} ({{source}})',
            ),
          ],
        ),
      ),
    );
}

function sessionsRow(dashboard: DashboardBuilder): DashboardBuilder {
  const size = (q: string): DataqueryBuilder =>
    query(
      `histogram_quantile(${q}, sum by (le) (${rate('message_size_bytes_bucket', SEL)}))`,
      `p${Number(q) * 100}`,
    );
  return dashboard
    .withRow(new RowBuilder('Sessions and throughput'))
    .withPanel(
      timeseries(
        'Open inbound sessions',
        'Inbound SMTP sessions open now, per listener.',
        'short',
        [query(`sum by (listener) (${M}inbound_active_sessions{${LISTENER}})`, '{{listener}}')],
      ),
    )
    .withPanel(
      timeseries('Inbound connections', 'TCP connections accepted, per listener.', 'cps', [
        query(`sum by (listener) (${rate('inbound_connections_total', LISTENER)})`, '{{listener}}'),
      ]),
    )
    .withPanel(
      timeseries('Bytes relayed', 'Message bodies relayed to the next hop.', 'Bps', [
        query(`sum (${rate('message_size_bytes_sum', SEL)})`, 'bytes relayed'),
      ]),
    )
    .withPanel(
      timeseries('Message size', 'Sizes of the message bodies relayed.', 'bytes', [
        size('0.5'),
        size('0.95'),
      ]),
    );
}

function authRow(dashboard: DashboardBuilder): DashboardBuilder {
  return dashboard
    .withRow(new RowBuilder('Authentication and certificate'))
    .withPanel(
      stacked(
        timeseries(
          'AUTH attempts by outcome',
          'failure (bad credentials) then throttled (failure budget spent) is password guessing; error is a passthrough next hop failing.',
          'cps',
          [query(`sum by (outcome) (${rate('auth_attempts_total', LISTENER)})`, '{{outcome}}')],
        ),
      ),
    )
    .withPanel(
      timeseries(
        'AUTH attempts by listener and mechanism',
        'PLAIN, LOGIN or other, per listener.',
        'cps',
        [
          query(
            `sum by (listener, mechanism) (${rate('auth_attempts_total', LISTENER)})`,
            '{{listener}} {{mechanism}}',
          ),
        ],
      ),
    )
    .withPanel(
      timeseries(
        'Certificate expiry',
        'Time left before each served certificate expires, per instance, source (configured or generated) and key type (ecdsa, or rsa for old clients).',
        's',
        [
          query(
            `${M}certificate_expiry_timestamp_seconds{${SEL}} - time()`,
            '{{instance}} {{source}} {{key_type}}',
          ),
        ],
      ),
    )
    .withPanel(
      timeseries(
        'Certificate reloads',
        'Reloads of the served certificate (file change or SIGHUP) by result; on failure the previous one stays.',
        'short',
        [
          query(
            `sum by (result) (increase(${M}certificate_reloads_total{${SEL}}${RATE}))`,
            '{{result}}',
          ),
        ],
      ),
    );
}

/** The dashboard as Grafana's JSON model. */
export function buildDashboard(): Dashboard {
  let dashboard = new DashboardBuilder('starttls-relay: TLS coverage')
    .uid('starttls-relay')
    .description(
      'TLS on both hops of starttls-relay: coverage, TLS census, STARTTLS outcomes and downgrades, next-hop errors, certificate expiry, sessions, throughput and AUTH. Metrics: docs/metrics.md.',
    )
    .tags(['starttls-relay', 'smtp', 'tls'])
    .editable()
    .tooltip(DashboardCursorSync.Crosshair)
    .refresh('1m')
    .time({ from: 'now-6h', to: 'now' })
    .timezone('browser');
  dashboard = variables(dashboard);
  for (const row of [coverageRow, censusRow, starttlsRow, nextHopRow, sessionsRow, authRow])
    dashboard = row(dashboard);
  return dashboard.build();
}

/** The JSON text of starttls-relay.json, formatted as the repository's prettier would. */
export async function dashboardJson(): Promise<string> {
  const options = await resolveConfig(DASHBOARD_FILE);
  return format(JSON.stringify(buildDashboard()), { ...options, parser: 'json' });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await writeFile(DASHBOARD_FILE, await dashboardJson());
  process.stdout.write(`wrote ${DASHBOARD_FILE}\n`);
}
