/**
 * @module Next-hop deadlines. Each is shorter than what the client allows us for the same step
 * (RFC 5321 §4.5.3.2), so the client hears our 451 before it gives up on us: a duplicate is
 * possible, a loss is not.
 */
export interface HopDeadlines {
  /** TCP connect, for each address tried. */
  readonly connectMs: number;
  /** Greeting, EHLO and STARTTLS together. */
  readonly setupMs: number;
  /** MAIL, RCPT, RSET: the client waits 5 minutes for each (§4.5.3.2.2, .3). */
  readonly commandMs: number;
  /** The reply to DATA itself: the client waits 2 minutes (§4.5.3.2.4). */
  readonly dataInitiationMs: number;
  /** After our final dot: the client waits 10 minutes (§4.5.3.2.6). */
  readonly finalReplyMs: number;
}

export const DEFAULT_DEADLINES: HopDeadlines = {
  connectMs: 30_000,
  setupMs: 60_000,
  commandMs: 240_000,
  dataInitiationMs: 100_000,
  finalReplyMs: 300_000,
};
