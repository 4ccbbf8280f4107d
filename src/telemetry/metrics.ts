/**
 * @module Every metric the relay exports, declared here and nowhere else (prefix starttls_relay_).
 * Labels take bounded values only: never a host name, address or domain. Node's default process
 * metrics live in a second registry, since three of their `*_total` gauges fail promtool's lint.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { StartTlsResult } from '../outbound/open-hop.js';

export type Hop = 'inbound' | 'outbound';
export type MessageOutcome = 'delivered' | 'rejected' | 'deferred' | 'aborted';
export type RecipientOutcome = 'accepted' | 'rejected' | 'deferred';
export type ReplySource = 'next_hop' | 'relay';

const PREFIX = 'starttls_relay_';

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
    help: 'Inbound connections refused at connect with 421 4.7.0, by listener and the limit reached: global_limit, address_limit.',
    labelNames: ['listener', 'reason'] as const,
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
    help: 'Outbound next-hop sessions by STARTTLS result: encrypted, not_offered, failed_fallback (refused or handshake failed, continued in plaintext), disabled (route tls: none).',
    labelNames: ['result'] as const,
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
    help: 'Expiry (notAfter) of the served certificate, as a Unix timestamp, by source (configured or generated).',
    labelNames: ['source'] as const,
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
    for (const result of ['encrypted', 'not_offered', 'failed_fallback', 'disabled'])
      this.outboundStartTls.inc({ result }, 0);
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
  }

  /** The per-listener label sets, at 0, when a listener starts. */
  listenerStarted(listener: string): void {
    this.inboundConnections.inc({ listener }, 0);
    this.activeSessions.set({ listener }, 0);
    for (const tls_version of ['TLSv1.3', 'TLSv1.2', 'none'])
      this.inboundSessions.inc({ listener, tls_version }, 0);
    for (const reason of ['protocol_version', 'no_shared_cipher', 'other'])
      this.inboundTlsFailures.inc({ listener, reason }, 0);
    for (const reason of ['global_limit', 'address_limit'])
      this.sessionsRefused.inc({ listener, reason }, 0);
  }

  startTls(result: StartTlsResult): void {
    this.outboundStartTls.inc({ result });
  }

  /** Both registries in the Prometheus text format. */
  async render(): Promise<string> {
    const [own, proc] = await Promise.all([
      this.registry.metrics(),
      this.processRegistry.metrics(),
    ]);
    return `${own}\n${proc}`;
  }
}
