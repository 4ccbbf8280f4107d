/**
 * @module Every metric the relay exports, declared here and nowhere else (prefix starttls_relay_).
 * Labels take bounded values only: never a host name, address or domain. Node's default process
 * metrics live in a second registry, since three of their `*_total` gauges fail promtool's lint.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { PolicySource } from '../outbound/hop-policy.js';
import type { StartTlsResult } from '../outbound/open-hop.js';
import { SESSION_RESULT_TYPES } from '../outbound/tls-result.js';
import { EVICTION_REASONS } from '../outbound/connection-pool.js';
import { WAIT_OUTCOMES } from '../outbound/hop-slots.js';

export type Hop = 'inbound' | 'outbound';
export type MessageOutcome = 'delivered' | 'rejected' | 'deferred' | 'aborted';
export type RecipientOutcome = 'accepted' | 'rejected' | 'deferred';
export type ReplySource = 'next_hop' | 'relay';

const PREFIX = 'starttls_relay_';

const START_TLS_RESULTS: readonly StartTlsResult[] = [
  'encrypted',
  'not_offered',
  'failed_fallback',
  'disabled',
  'failed_deferred',
  'policy_refused',
];
const POLICY_SOURCES: readonly PolicySource[] = ['route', 'mta-sts', 'history', 'requiretls'];
export const DOWNGRADE_REASONS = [
  'not_offered',
  'starttls_refused',
  'handshake_failed',
  'unverified',
] as const;
export type DowngradeReason = (typeof DOWNGRADE_REASONS)[number];

export const INBOUND_VIOLATIONS = [
  'unauthorized_pipelining',
  'cr_in_command',
  'command_too_long',
  'unknown_command',
  'too_many_errors',
  'too_many_junk_commands',
] as const;
export type InboundViolation = (typeof INBOUND_VIOLATIONS)[number];

export const INBOUND_TIMEOUTS = [
  'idle',
  'tls_handshake',
  'command',
  'data_rate',
  'session_lifetime',
] as const;
export type InboundTimeout = (typeof INBOUND_TIMEOUTS)[number];

/** TLS protocol as a bounded label value. */
export function tlsVersionLabel(protocol: string | null | undefined): string {
  switch (protocol) {
    case 'TLSv1.3':
    case 'TLSv1.2':
    case 'TLSv1.1':
    case 'TLSv1':
      return protocol;
    case null:
    case undefined:
      return 'none';
    default:
      return 'other';
  }
}

export class Metrics {
  readonly registry = new Registry();
  readonly processRegistry = new Registry();
  /**
   * The process supervision families: rendered by the one process serving /metrics (the relay
   * itself, or the primary of worker processes), never aggregated from workers.
   */
  readonly supervisorRegistry = new Registry();

  readonly workers = new Gauge({
    name: `${PREFIX}workers`,
    help: 'Relay processes serving the listeners now (1 without worker processes).',
    registers: [this.supervisorRegistry],
  });

  readonly workerRestarts = new Counter({
    name: `${PREFIX}worker_restarts_total`,
    help: 'Worker processes that exited unexpectedly and were started again.',
    registers: [this.supervisorRegistry],
  });

  readonly inboundConnections = new Counter({
    name: `${PREFIX}inbound_connections_total`,
    help: 'Inbound TCP connections accepted, by listener.',
    labelNames: ['listener'] as const,
    registers: [this.registry],
  });

  readonly inboundSessions = new Counter({
    name: `${PREFIX}inbound_sessions_total`,
    help: 'Inbound SMTP sessions ended, by listener and the TLS protocol the session reached (none for plaintext).',
    labelNames: ['listener', 'tls_version'] as const,
    registers: [this.registry],
  });

  readonly inboundTlsFailures = new Counter({
    name: `${PREFIX}inbound_tls_handshake_failures_total`,
    help: 'Inbound TLS handshakes that failed, by listener and reason: protocol_version (the client offered only versions we refuse), no_shared_cipher (only suites we refuse), other. The clients a stricter policy locks out.',
    labelNames: ['listener', 'reason'] as const,
    registers: [this.registry],
  });

  readonly inboundTlsHandshakes = new Counter({
    name: `${PREFIX}inbound_tls_handshakes_total`,
    help: 'Inbound TLS handshakes completed, by listener, negotiated protocol and whether the suite has forward secrecy: the TLS census.',
    labelNames: ['listener', 'tls_version', 'forward_secrecy'] as const,
    registers: [this.registry],
  });

  readonly sessionsRefused = new Counter({
    name: `${PREFIX}inbound_sessions_refused_total`,
    help: 'Inbound connections refused at connect with 421 4.7.0, by listener and the limit reached: global_limit, address_limit, connection_rate.',
    labelNames: ['listener', 'reason'] as const,
    registers: [this.registry],
  });

  readonly inboundStartTlsRefused = new Counter({
    name: `${PREFIX}inbound_starttls_refused_total`,
    help: 'STARTTLS commands answered 454 4.7.0 instead of a handshake, by listener and reason: tls_rate (limits.tlsHandshakeRatePerMinute reached for the client address).',
    labelNames: ['listener', 'reason'] as const,
    registers: [this.registry],
  });

  readonly inboundProtocolViolations = new Counter({
    name: `${PREFIX}inbound_protocol_violations_total`,
    help: 'Inbound command lines refused before smtp-server ran them, by listener and kind: unauthorized_pipelining (554, closed), cr_in_command (501), command_too_long (500), unknown_command (500), too_many_errors and too_many_junk_commands (421, closed).',
    labelNames: ['listener', 'kind'] as const,
    registers: [this.registry],
  });

  readonly inboundTimeouts = new Counter({
    name: `${PREFIX}inbound_timeouts_total`,
    help: 'Inbound sessions closed for slowness, by listener and kind: idle, tls_handshake, command, data_rate, session_lifetime.',
    labelNames: ['listener', 'kind'] as const,
    registers: [this.registry],
  });

  readonly activeSessions = new Gauge({
    name: `${PREFIX}inbound_active_sessions`,
    help: 'Inbound SMTP sessions open now, by listener.',
    labelNames: ['listener'] as const,
    registers: [this.registry],
  });

  readonly outboundStartTls = new Counter({
    name: `${PREFIX}outbound_starttls_total`,
    help: 'Outbound next-hop sessions by STARTTLS result: encrypted, not_offered, failed_fallback (refused or handshake failed, continued in plaintext), disabled (route tls: none), failed_deferred (TLS required but not offered, refused or broken: closed without mail), policy_refused (encrypted but short of an enforced check: closed without mail).',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  readonly outboundTlsHandshakes = new Counter({
    name: `${PREFIX}outbound_tls_handshakes_total`,
    help: 'Outbound TLS sessions established, by negotiated protocol and whether the next hop certificate verified (chain and name).',
    labelNames: ['tls_version', 'verified'] as const,
    registers: [this.registry],
  });

  readonly outboundTlsFailures = new Counter({
    name: `${PREFIX}outbound_tls_failures_total`,
    help: 'Outbound sessions that fell short of TLS or of their policy, by RFC 8460 result type: starttls-not-supported, certificate-host-mismatch, certificate-expired, certificate-not-trusted, validation-failure.',
    labelNames: ['result_type'] as const,
    registers: [this.registry],
  });

  readonly outboundPolicyFailures = new Counter({
    name: `${PREFIX}outbound_policy_failures_total`,
    help: 'Outbound sessions (or MX hosts refused by name) that failed a policy check, by policy (route, mta-sts, history, requiretls) and whether it was enforced (true: not used for mail) or report-only.',
    labelNames: ['policy', 'enforced'] as const,
    registers: [this.registry],
  });

  readonly tlsDowngrades = new Counter({
    name: `${PREFIX}tls_downgrades_total`,
    help: 'Outbound sessions below the best TLS their destination reached before, by reason: not_offered, starttls_refused, handshake_failed, unverified.',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  readonly policyRefusals = new Counter({
    name: `${PREFIX}policy_refused_recipients_total`,
    help: 'Recipients refused because no next hop met the TLS policy, by policy: route, mta-sts, history (451 4.7.5), requiretls (550 5.7.30).',
    labelNames: ['policy'] as const,
    registers: [this.registry],
  });

  readonly outboundConnectFailures = new Counter({
    name: `${PREFIX}outbound_connect_failures_total`,
    help: 'Next-hop addresses that could not be reached or set up.',
    registers: [this.registry],
  });

  readonly hopTls = new Counter({
    name: `${PREFIX}hop_tls_messages_total`,
    help: 'Messages relayed (accepted by the next hop), by hop, TLS protocol (none for plaintext) and whether the peer certificate was verified.',
    labelNames: ['hop', 'tls_version', 'verified'] as const,
    registers: [this.registry],
  });

  readonly tlsPaths = new Counter({
    name: `${PREFIX}messages_by_tls_path_total`,
    help: 'Messages relayed (accepted by the next hop) by the TLS of each hop: inbound tls|none, outbound tls|none. inbound="tls",outbound="none" is mail that arrived encrypted and left in clear.',
    labelNames: ['inbound', 'outbound'] as const,
    registers: [this.registry],
  });

  readonly messages = new Counter({
    name: `${PREFIX}messages_total`,
    help: 'Message transactions that reached DATA, by outcome: delivered (next hop 2xx), rejected (5xx), deferred (4xx or next hop lost), aborted (client vanished).',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  readonly recipients = new Counter({
    name: `${PREFIX}recipients_total`,
    help: 'RCPT commands answered, by outcome and by who decided: the next hop (mirrored) or the relay itself.',
    labelNames: ['outcome', 'source'] as const,
    registers: [this.registry],
  });

  readonly relayDuration = new Histogram({
    name: `${PREFIX}relay_duration_seconds`,
    help: 'From MAIL to the final reply of a message transaction that reached DATA, by outcome.',
    labelNames: ['outcome'] as const,
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600],
    registers: [this.registry],
  });

  readonly messageSize = new Histogram({
    name: `${PREFIX}message_size_bytes`,
    help: 'Size of message bodies relayed to the next hop, as received from the client.',
    buckets: [1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864],
    registers: [this.registry],
  });

  readonly authAttempts = new Counter({
    name: `${PREFIX}auth_attempts_total`,
    help: 'AUTH attempts (always after TLS), by listener, mechanism (PLAIN, LOGIN, other) and outcome: success, failure (bad credentials), throttled (failure budget exhausted), refused (inside a transaction), error.',
    labelNames: ['listener', 'mechanism', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly certificateReloads = new Counter({
    name: `${PREFIX}certificate_reloads_total`,
    help: 'Reloads of the served certificate (file change or SIGHUP), by result: success, failure (the previous certificate stays).',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  readonly certificateExpiry = new Gauge({
    name: `${PREFIX}certificate_expiry_timestamp_seconds`,
    help: 'Expiry (notAfter) of each served certificate, as a Unix timestamp, by source (configured or generated) and key type (ecdsa, rsa, eddsa, other).',
    labelNames: ['source', 'key_type'] as const,
    // Worker processes serve the same certificate: the earliest expiry, never a sum.
    aggregator: 'min',
    registers: [this.registry],
  });

  readonly mtaStsLookups = new Counter({
    name: `${PREFIX}mta_sts_lookups_total`,
    help: 'MTA-STS policy lookups for a destination domain (RFC 8461), by outcome: none (no policy), cache (cached policy used), fetch (policy fetched), failed (the domain publishes MTA-STS but no policy could be had).',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  readonly mtaStsFetches = new Counter({
    name: `${PREFIX}mta_sts_fetches_total`,
    help: 'MTA-STS policy fetches over HTTPS, by result: ok, fetch_error (unreachable, HTTP error, redirect, timeout), invalid (not a valid policy, not text/plain, over 64 KiB), webpki_invalid (certificate not valid for mta-sts.<domain>).',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  readonly connectionCacheHits = new Counter({
    name: `${PREFIX}outbound_connection_cache_hits_total`,
    help: 'Next-hop sessions taken warm from the connection cache (policy judged again, RSET answered 250) instead of opened.',
    registers: [this.registry],
  });

  readonly connectionCacheMisses = new Counter({
    name: `${PREFIX}outbound_connection_cache_misses_total`,
    help: 'Next-hop sessions needed when the connection cache had none usable for the next hop and policy: a new one was opened.',
    registers: [this.registry],
  });

  readonly connectionCacheEvictions = new Counter({
    name: `${PREFIX}outbound_connection_cache_evictions_total`,
    help: 'Next-hop sessions leaving the connection cache other than by reuse, by reason: idle_timeout, max_age, max_transactions, capacity, check_failed (RSET not answered 250), hop_closed (the next hop closed it while idle), shutdown.',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  readonly connectionCacheIdle = new Gauge({
    name: `${PREFIX}outbound_connection_cache_idle_connections`,
    help: 'Next-hop sessions idle in the connection cache now.',
    registers: [this.registry],
  });

  readonly connectionWaits = new Counter({
    name: `${PREFIX}outbound_connection_waits_total`,
    help: 'RCPTs that waited for a next-hop connection at outbound.maxConnectionsPerHop, by outcome: served (a session handed over or a slot freed), timed_out (451 4.4.5 after outbound.connectionWaitSeconds), abandoned (the client left).',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  readonly connectionWaiting = new Gauge({
    name: `${PREFIX}outbound_connection_waiting_recipients`,
    help: 'RCPTs waiting now for a next-hop connection at outbound.maxConnectionsPerHop.',
    registers: [this.registry],
  });

  readonly outboundConnections = new Gauge({
    name: `${PREFIX}outbound_connections`,
    help: 'Next-hop connections counted against outbound.maxConnectionsPerHop now, all next hops together: held by client sessions, idle in the cache, being opened (AUTH passthrough sessions are not counted).',
    registers: [this.registry],
  });

  readonly outboundTlsResumptions = new Counter({
    name: `${PREFIX}outbound_tls_resumptions_total`,
    help: 'Outbound TLS sessions resumed from an earlier session with the same next-hop address, port, name and trust settings (abbreviated handshake; also counted in outbound_tls_handshakes_total).',
    registers: [this.registry],
  });

  readonly mtaStsCacheEntries = new Gauge({
    name: `${PREFIX}mta_sts_cache_entries`,
    help: 'MTA-STS policies in the cache now (expired ones are dropped when next looked up).',
    // Each worker process keeps its own cache: the fullest one, not the sum of copies.
    aggregator: 'max',
    registers: [this.registry],
  });

  constructor(options: { readonly processMetrics?: boolean } = {}) {
    if (options.processMetrics ?? true) {
      collectDefaultMetrics({ register: this.processRegistry, prefix: PREFIX });
      // These three gauges end in _total, which promtool's lint refuses; each equals the sum of
      // the per-type gauge beside it (…_active_handles{type}), so nothing is lost.
      for (const name of [
        'active_handles_total',
        'active_requests_total',
        'active_resources_total',
      ]) {
        this.processRegistry.removeSingleMetric(`${PREFIX}nodejs_${name}`);
      }
    }
    this.#zeroes();
  }

  /**
   * Every bounded label set starts at 0, so rate() and increase() see the first event after a
   * restart (a series that appears at 1 has no earlier sample to differ from).
   */
  #zeroes(): void {
    for (const result of START_TLS_RESULTS) this.outboundStartTls.inc({ result }, 0);
    for (const tls_version of ['TLSv1.3', 'TLSv1.2']) {
      for (const verified of ['true', 'false'])
        this.outboundTlsHandshakes.inc({ tls_version, verified }, 0);
    }
    for (const result_type of SESSION_RESULT_TYPES)
      this.outboundTlsFailures.inc({ result_type }, 0);
    for (const policy of POLICY_SOURCES) {
      this.policyRefusals.inc({ policy }, 0);
      for (const enforced of ['true', 'false'])
        this.outboundPolicyFailures.inc({ policy, enforced }, 0);
    }
    for (const reason of DOWNGRADE_REASONS) this.tlsDowngrades.inc({ reason }, 0);
    for (const outcome of ['delivered', 'rejected', 'deferred', 'aborted'])
      this.messages.inc({ outcome }, 0);
    for (const hop of ['inbound', 'outbound']) {
      for (const tls_version of ['TLSv1.3', 'TLSv1.2', 'none']) {
        for (const verified of ['true', 'false'])
          this.hopTls.inc({ hop, tls_version, verified }, 0);
      }
    }
    for (const inbound of ['tls', 'none']) {
      for (const outbound of ['tls', 'none']) this.tlsPaths.inc({ inbound, outbound }, 0);
    }
    for (const result of ['success', 'failure']) this.certificateReloads.inc({ result }, 0);
    this.outboundConnectFailures.inc(0);
    for (const outcome of ['none', 'cache', 'fetch', 'failed'])
      this.mtaStsLookups.inc({ outcome }, 0);
    for (const result of ['ok', 'fetch_error', 'invalid', 'webpki_invalid'])
      this.mtaStsFetches.inc({ result }, 0);
    this.mtaStsCacheEntries.set(0);
    this.connectionCacheHits.inc(0);
    this.connectionCacheMisses.inc(0);
    for (const reason of EVICTION_REASONS) this.connectionCacheEvictions.inc({ reason }, 0);
    this.connectionCacheIdle.set(0);
    for (const outcome of WAIT_OUTCOMES) this.connectionWaits.inc({ outcome }, 0);
    this.connectionWaiting.set(0);
    this.outboundConnections.set(0);
    this.outboundTlsResumptions.inc(0);
    this.workers.set(1);
    this.workerRestarts.inc(0);
  }

  /** The per-listener label sets, at 0, when a listener starts. */
  listenerStarted(listener: string): void {
    this.inboundConnections.inc({ listener }, 0);
    this.activeSessions.set({ listener }, 0);
    for (const tls_version of ['TLSv1.3', 'TLSv1.2', 'none'])
      this.inboundSessions.inc({ listener, tls_version }, 0);
    for (const reason of ['protocol_version', 'no_shared_cipher', 'other'])
      this.inboundTlsFailures.inc({ listener, reason }, 0);
    for (const reason of ['global_limit', 'address_limit', 'connection_rate'])
      this.sessionsRefused.inc({ listener, reason }, 0);
    this.inboundStartTlsRefused.inc({ listener, reason: 'tls_rate' }, 0);
    for (const kind of INBOUND_VIOLATIONS)
      this.inboundProtocolViolations.inc({ listener, kind }, 0);
    for (const kind of INBOUND_TIMEOUTS) this.inboundTimeouts.inc({ listener, kind }, 0);
  }

  startTls(result: StartTlsResult): void {
    this.outboundStartTls.inc({ result });
  }

  /** Both registries in the Prometheus text format. */
  async render(): Promise<string> {
    const [own, proc, supervisor] = await Promise.all([
      this.registry.metrics(),
      this.processRegistry.metrics(),
      this.supervisorRegistry.metrics(),
    ]);
    return `${own}\n${proc}\n${supervisor}`;
  }
}
