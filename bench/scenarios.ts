/** The bench scenarios a–e of issue #8: message size, TLS, and how the clients connect. */

export type ScenarioId = 'a' | 'b' | 'c' | 'd' | 'e';
export const SCENARIO_IDS: readonly ScenarioId[] = ['a', 'b', 'c', 'd', 'e'];

export interface Scenario {
  readonly id: ScenarioId;
  readonly title: string;
  /** Message size in bytes. */
  readonly size: number;
  /** STARTTLS on both hops (client → subject, subject → sink). */
  readonly tls: boolean;
  /**
   * sessions: `clients` long-lived sessions, one warm-up message each, then `messages` spread
   * over them; fresh: a new connection and handshake per message from `clients` concurrent
   * clients; hold: `clients` sessions opened and held, then each sends one message at once.
   */
  readonly shape: 'sessions' | 'fresh' | 'hold';
  readonly clients: number;
  /** Measured messages per run (for hold: one per client). */
  readonly messages: number;
  /**
   * Messages sent before the measured load and not counted: a long-running relay is measured once
   * V8 has compiled its hot paths (sessions: over the same sessions; fresh: fresh connections;
   * hold: over `warmUpSessions` sessions closed again before the held ones open).
   */
  readonly warmUp: number;
  readonly warmUpSessions: number;
}

export interface ScenarioDefaults {
  readonly connections: number;
  /** Overrides every scenario's message count (not e's: one per session). */
  readonly messages?: number;
  /** Overrides every scenario's warm-up count (0: measure from a cold start). */
  readonly warmUp?: number;
  readonly size: number;
  readonly largeSize: number;
  readonly sessions: number;
}

/** Each scenario's unmeasured warm-up, in messages, unless --warm-up says otherwise. */
export const WARM_UP: Readonly<Record<ScenarioId, number>> = {
  a: 3000,
  b: 1000,
  c: 600,
  d: 3000,
  e: 3000,
};

export function scenario(id: ScenarioId, d: ScenarioDefaults): Scenario {
  const warm = {
    warmUp: d.warmUp ?? WARM_UP[id],
    warmUpSessions: d.connections,
  };
  const kib = (n: number): string => (n % 1024 === 0 ? `${n / 1024} KiB` : `${n} B`);
  switch (id) {
    case 'a':
      return {
        id,
        title: `a: ${kib(d.size)}, ${d.connections} sessions, STARTTLS`,
        size: d.size,
        tls: true,
        shape: 'sessions',
        clients: d.connections,
        messages: d.messages ?? 2000,
        ...warm,
      };
    case 'b':
      return {
        id,
        title: `b: ${kib(d.largeSize)}, ${d.connections} sessions, STARTTLS`,
        size: d.largeSize,
        tls: true,
        shape: 'sessions',
        clients: d.connections,
        messages: d.messages ?? 600,
        ...warm,
      };
    case 'c':
      return {
        id,
        title: `c: ${kib(d.size)}, new connection + TLS per message, ${d.connections} clients`,
        size: d.size,
        tls: true,
        shape: 'fresh',
        clients: d.connections,
        messages: d.messages ?? 400,
        ...warm,
      };
    case 'd':
      return {
        id,
        title: `d: ${kib(d.size)}, ${d.connections} sessions, plaintext`,
        size: d.size,
        tls: false,
        shape: 'sessions',
        clients: d.connections,
        messages: d.messages ?? 2000,
        ...warm,
      };
    case 'e':
      return {
        id,
        title: `e: ${d.sessions} concurrent sessions, ${kib(d.size)} each, STARTTLS`,
        size: d.size,
        tls: true,
        shape: 'hold',
        clients: d.sessions,
        messages: d.sessions,
        ...warm,
      };
  }
}
