/** @module The one configuration schema (the YAML contract of DESIGN.md), its defaults and its type. */
import { isIP } from 'node:net';
import { hostname as osHostname } from 'node:os';
import { z } from 'zod';
import { cidr, domainName, port } from './fields.js';
import { defaultRoutes, outbound, OUTBOUND_DEFAULTS, route } from './outbound-schema.js';

/** RFC 5321 §4.5.4 (25), RFC 6409 §3.1 (587), RFC 8314 §3.3 (465). */
const DEFAULT_PORTS = { mta: 25, submission: 587, submissions: 465 } as const;

const listener = z
  .strictObject({
    name: z.string().min(1),
    mode: z.enum(['mta', 'submission', 'submissions']).default('mta'),
    host: z.string().min(1).default('0.0.0.0'),
    port: port.optional(),
    /** Offer AUTH (after TLS only). Required on submission listeners, optional on mta. */
    auth: z.boolean().optional(),
    /** Read a PROXY v1/v2 header first, from the load balancers in proxyFrom only. */
    proxyProtocol: z.boolean().default(false),
    proxyFrom: z.array(cidr).default([]),
    /** Pause before the 220 greeting (early-talker check); see src/inbound/greeting-delay.ts. */
    greetingDelayMs: z.number().int().min(0).max(60_000).optional(),
  })
  .transform((l) => ({
    ...l,
    port: l.port ?? DEFAULT_PORTS[l.mode],
    auth: l.auth ?? l.mode !== 'mta',
    // defaultGreetingDelayMs: smtp-server's 100 ms on mta listeners, none on submission ones.
    greetingDelayMs: l.greetingDelayMs ?? (l.mode === 'mta' ? 100 : 0),
  }))
  .refine((l) => l.auth || l.mode === 'mta', {
    message: 'submission listeners always require authentication (auth: true)',
    path: ['auth'],
  })
  .refine((l) => !l.proxyProtocol || l.proxyFrom.length > 0, {
    message:
      'proxyProtocol needs proxyFrom: the load balancer addresses allowed to send the header',
    path: ['proxyFrom'],
  });

const failures = z.strictObject({
  /** Failed AUTH attempts allowed per client address within the window. */
  perAddress: z.number().int().min(1).default(10),
  /** Failed AUTH attempts allowed per username within the window. */
  perUser: z.number().int().min(1).default(5),
  windowSeconds: z.number().int().min(1).default(900),
  /** Delay before the first failure reply; doubles with each failure, up to maxDelayMs. */
  delayMs: z.number().int().min(0).default(500),
  maxDelayMs: z.number().int().min(0).default(8000),
  /** Once exhausted: `refuse` answers 454 4.7.0; `disconnect` answers 421 4.7.0 and closes. */
  whenExhausted: z.enum(['refuse', 'disconnect']).default('refuse'),
});

const FAILURE_DEFAULTS = {
  perAddress: 10,
  perUser: 5,
  windowSeconds: 900,
  delayMs: 500,
  maxDelayMs: 8000,
  whenExhausted: 'refuse' as const,
};

const auth = z.strictObject({
  usersFile: z.string().min(1).optional(),
  /** Check credentials with the catch-all route's next hop instead of a users file. */
  passthrough: z.boolean().default(false),
  failures: failures.default(FAILURE_DEFAULTS),
});

const tls = z
  .strictObject({
    cert: z.string().min(1).optional(),
    key: z.string().min(1).optional(),
    /**
     * A second, RSA pair served beside the ECDSA `cert`/`key` for clients that cannot verify
     * ECDSA; OpenSSL picks one per handshake from the client's signature algorithms.
     */
    rsaCert: z.string().min(1).optional(),
    rsaKey: z.string().min(1).optional(),
    /** With no `cert`/`key`: generate an RSA 2048 certificate too, beside the ECDSA P-256 one. */
    generateRsa: z.boolean().default(false),
    minVersion: z.enum(['TLSv1.2', 'TLSv1.3']).default('TLSv1.2'),
  })
  .refine((t) => (t.cert === undefined) === (t.key === undefined), {
    message:
      'cert and key go together: give both, or neither for a generated self-signed certificate',
  })
  .refine((t) => (t.rsaCert === undefined) === (t.rsaKey === undefined), {
    message: 'rsaCert and rsaKey go together: give both, or neither',
  })
  .refine((t) => t.rsaCert === undefined || t.cert !== undefined, {
    message:
      'rsaCert and rsaKey are served beside cert and key: configure those too, or use generateRsa with the generated certificate',
  })
  .refine((t) => !t.generateRsa || t.cert === undefined, {
    message:
      'generateRsa applies to the generated certificate only: with cert and key configured, give rsaCert and rsaKey',
  });

const relay = z.strictObject({
  acceptDomains: z.array(domainName).default([]),
  allowedNetworks: z.array(cidr).default(['127.0.0.0/8', '::1/128']),
  maxMessageSize: z.number().int().min(1024).default(52_428_800),
  maxRecipients: z.number().int().min(1).max(100_000).default(1000),
  /**
   * Bare CR, bare LF or NUL in message content (RFC 5321 §2.3.8, SMTP smuggling): `reject`
   * answers 550 5.5.2 and relays nothing; `normalize` turns bare CR and LF into CRLF. Clients in
   * bareNewlineExempt (default: allowedNetworks, often legacy internal senders) are normalised.
   * A NUL is never relayed (catalogue SM-03, RFC 5321 §4.1.1.4): under `normalize` the message
   * is refused with 554 5.6.0 after end of data, and the next hop never gets its final dot.
   */
  bareNewline: z.enum(['reject', 'normalize']).default('reject'),
  /** A message carrying this many Received fields is refused as a loop (554 5.4.6). */
  maxHops: z.number().int().min(2).max(1000).default(50),
  /** Header section size limit in bytes (552 5.3.4). */
  maxHeaderBytes: z.number().int().min(1024).default(1_048_576),
  bareNewlineExempt: z.array(cidr).optional(),
});

export const configSchema = z
  .strictObject({
    hostname: z
      .string()
      .min(1)
      .refine((h) => isIP(h) === 0 && /^[A-Za-z0-9.-]+$/.test(h), {
        message: 'expected a host name',
      })
      .default(() => osHostname()),
    stateDir: z.string().min(1).default('./state'),
    /**
     * Relay processes sharing the listeners (src/cluster): `auto` is one per CPU. Each worker
     * keeps its own connection cache, limits and outbound state (stateDir/worker-N).
     */
    workers: z
      .union([z.literal('auto'), z.number().int().min(1).max(64)], {
        error: 'expected auto or a number of processes from 1 to 64',
      })
      .default(1),
    listeners: z
      .array(listener)
      .min(1)
      .default([
        {
          name: 'mta',
          mode: 'mta',
          host: '0.0.0.0',
          port: 25,
          auth: false,
          proxyProtocol: false,
          proxyFrom: [],
          greetingDelayMs: 100,
        },
      ])
      .superRefine((ls, ctx) => {
        const seen = new Set<string>();
        ls.forEach((l, i) => {
          if (seen.has(l.name)) {
            ctx.addIssue({
              code: 'custom',
              path: [i, 'name'],
              message: `duplicate listener name "${l.name}"`,
            });
          }
          seen.add(l.name);
        });
      }),
    tls: tls.default({ minVersion: 'TLSv1.2', generateRsa: false }),
    relay: relay.default({
      acceptDomains: [],
      allowedNetworks: ['127.0.0.0/8', '::1/128'],
      maxMessageSize: 52_428_800,
      maxRecipients: 1000,
      bareNewline: 'reject',
      maxHops: 50,
      maxHeaderBytes: 1_048_576,
    }),
    auth: auth.optional(),
    limits: z
      .strictObject({
        /** Concurrent inbound sessions across all listeners. */
        maxSessions: z.number().int().min(1).default(1000),
        /** Concurrent inbound sessions from one client address. */
        maxSessionsPerAddress: z.number().int().min(1).default(20),
        /** Command line bytes without CRLF (RFC 5321 §4.5.3.1.4 minimum 512); over: 500 5.5.2. */
        maxCommandLength: z.number().int().min(512).max(16_000).default(2048),
        /** Syntax and sequence errors (500/501/503…) per session before 421 4.7.0. */
        maxErrors: z.number().int().min(1).default(20),
        /** HELO, EHLO, RSET, NOOP, VRFY, HELP per session (reset by a delivered message). */
        maxJunkCommands: z.number().int().min(1).default(100),
        /** New connections per client address per minute, 0 = unlimited; over: 421 4.7.0. */
        connectionRatePerMinute: z.number().int().min(0).default(600),
        /** STARTTLS handshakes per client address per minute, 0 = unlimited; over: 454 4.7.0. */
        tlsHandshakeRatePerMinute: z.number().int().min(0).default(300),
        /** Networks exempt from both rates (default: relay.allowedNetworks, like Postfix's mynetworks). */
        rateExempt: z.array(cidr).optional(),
        /** Silence allowed while the client owes us input (RFC 5321 §4.5.3.2.7: at least 5 minutes). */
        idleTimeoutSeconds: z.number().int().min(1).max(3600).default(300),
        /** From STARTTLS to a finished handshake; past it the connection is dropped. */
        tlsHandshakeTimeoutSeconds: z.number().int().min(1).max(3600).default(60),
        /** From the first byte of a command line to its CRLF, however it trickles in. */
        commandTimeoutSeconds: z.number().int().min(1).max(3600).default(300),
        /** Minimum message bytes per second over each window of DATA (Postfix 500), 0 = none. */
        minDataRate: z.number().int().min(0).default(500),
        dataRateWindowSeconds: z.number().int().min(1).max(3600).default(30),
        /** Hard cap on one session, whatever it does. */
        maxSessionSeconds: z.number().int().min(1).default(3600),
      })
      .default({
        maxSessions: 1000,
        maxSessionsPerAddress: 20,
        maxCommandLength: 2048,
        maxErrors: 20,
        maxJunkCommands: 100,
        connectionRatePerMinute: 600,
        tlsHandshakeRatePerMinute: 300,
        idleTimeoutSeconds: 300,
        tlsHandshakeTimeoutSeconds: 60,
        commandTimeoutSeconds: 300,
        minDataRate: 500,
        dataRateWindowSeconds: 30,
        maxSessionSeconds: 3600,
      }),
    shutdown: z
      .strictObject({
        /** On SIGTERM: how long open sessions may finish their transactions before a forced close. */
        drainSeconds: z.number().int().min(0).max(3600).default(30),
      })
      .default({ drainSeconds: 30 }),
    routes: z.array(route).default(defaultRoutes),
    outbound: outbound.default(OUTBOUND_DEFAULTS),
    metrics: z
      .strictObject({ host: z.string().min(1).default('127.0.0.1'), port: port.default(9464) })
      .default({ host: '127.0.0.1', port: 9464 }),
    log: z
      .strictObject({
        level: z
          .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
          .default('info'),
      })
      .default({ level: 'info' }),
  })
  .superRefine((c, ctx) => {
    const backend = c.auth?.usersFile !== undefined || c.auth?.passthrough === true;
    c.listeners.forEach((l, i) => {
      if (l.auth && !backend) {
        ctx.addIssue({
          code: 'custom',
          path: ['listeners', i, 'auth'],
          message: `listener "${l.name}" offers AUTH: set auth.usersFile or auth.passthrough`,
        });
      }
    });
    if (c.auth?.passthrough && c.auth.usersFile !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['auth'],
        message: 'usersFile and passthrough exclude each other: choose one',
      });
    }
    if (
      c.auth?.passthrough &&
      !c.routes.some((r) => r.domains.includes('*') && r.nextHop !== 'mx')
    ) {
      ctx.addIssue({
        code: 'custom',
        path: ['auth', 'passthrough'],
        message:
          'passthrough checks credentials with the next hop of the "*" route: give that route a host, not mx',
      });
    }
  });

/** The validated configuration, defaults filled in. */
export type Config = z.output<typeof configSchema>;
export type ListenerConfig = Config['listeners'][number];
export type RouteConfig = Config['routes'][number];
export type AuthConfig = NonNullable<Config['auth']>;
