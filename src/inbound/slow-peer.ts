/**
 * @module Deadlines for one inbound session beyond smtp-server's idle timer, which every
 * trickled byte resets (catalogue DS-03, slowloris): a per-command deadline, a minimum data rate
 * measured over a window (Postfix `smtpd_min_data_rate`), a TLS handshake deadline and a maximum
 * session lifetime. Each expiry is reported once; the caller answers 421 4.4.2 and closes.
 */
import type { InboundTimeout } from '../telemetry/metrics.js';

export interface SlowPeerLimits {
  readonly commandTimeoutSeconds: number;
  readonly minDataRate: number;
  readonly dataRateWindowSeconds: number;
  readonly tlsHandshakeTimeoutSeconds: number;
  readonly maxSessionSeconds: number;
}

export class SlowPeer {
  #command: NodeJS.Timeout | undefined;
  #handshake: NodeJS.Timeout | undefined;
  #window: NodeJS.Timeout | undefined;
  readonly #lifetime: NodeJS.Timeout;
  #windowBytes = 0;
  /** The relay held data back during this window: the client is not to blame for it. */
  #excused = false;
  #holding = false;
  #expired = false;

  constructor(
    private readonly limits: SlowPeerLimits,
    /** Still in data mode (the message is not complete yet)? */
    private readonly inData: () => boolean,
    private readonly expire: (kind: InboundTimeout) => void,
  ) {
    this.#lifetime = this.#timer(limits.maxSessionSeconds, () => this.#fire('session_lifetime'));
  }

  lineStarted(): void {
    this.#command ??= this.#timer(this.limits.commandTimeoutSeconds, () => this.#fire('command'));
  }

  lineEnded(): void {
    clearTimeout(this.#command);
    this.#command = undefined;
  }

  handshakeStarted(): void {
    this.#handshake = this.#timer(this.limits.tlsHandshakeTimeoutSeconds, () =>
      this.#fire('tls_handshake'),
    );
  }

  handshakeDone(): void {
    clearTimeout(this.#handshake);
  }

  dataStarted(): void {
    if (this.limits.minDataRate <= 0) return;
    clearInterval(this.#window);
    this.#windowBytes = 0;
    this.#excused = false;
    const seconds = this.limits.dataRateWindowSeconds;
    this.#window = setInterval(() => this.#tick(), seconds * 1000);
    this.#window.unref();
  }

  dataBytes(count: number): void {
    this.#windowBytes += count;
  }

  heldBack(): void {
    this.#holding = true;
    this.#excused = true;
  }

  released(): void {
    this.#holding = false;
  }

  stop(): void {
    clearTimeout(this.#command);
    clearTimeout(this.#handshake);
    clearTimeout(this.#lifetime);
    clearInterval(this.#window);
  }

  #tick(): void {
    if (!this.inData()) {
      clearInterval(this.#window);
      return;
    }
    const enough = this.#windowBytes >= this.limits.minDataRate * this.limits.dataRateWindowSeconds;
    const excused = this.#excused || this.#holding;
    this.#windowBytes = 0;
    this.#excused = false;
    if (!enough && !excused) this.#fire('data_rate');
  }

  #fire(kind: InboundTimeout): void {
    if (this.#expired) return;
    this.#expired = true;
    this.stop();
    this.expire(kind);
  }

  #timer(seconds: number, f: () => void): NodeJS.Timeout {
    const t = setTimeout(f, seconds * 1000);
    t.unref();
    return t;
  }
}
