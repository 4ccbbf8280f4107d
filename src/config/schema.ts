/** @module The one configuration schema (the YAML contract of DESIGN.md), its defaults and its type. */
import { isIP } from 'node:net';
import { hostname as osHostname } from 'node:os';
import { z } from 'zod';
import { parseCidr } from '../inbound/networks.js';
import { parseHostPort } from '../routing/host-port.js';

const domainName = z
  .string()
  .min(1)
  .transform((d) => d.toLowerCase().replace(/\.$/, ''))
  .refine(
    (d) =>
      d === '*' ||
      /^(\*\.)?[a-z0-9\u0080-\uffff]([a-z0-9\u0080-\uffff.-]*[a-z0-9\u0080-\uffff])?$/u.test(d),
    {
      message: 'expected a domain name, "*.domain" or "*"',
    },
  );

const port = z.number().int().min(0).max(65535);

const cidr = z.string().refine((c) => parseCidr(c) !== undefined, {
  message: 'expected an IPv4 or IPv6 address or CIDR block such as 10.0.0.0/8 or fd00::/8',
});

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
    minVersion: z.enum(['TLSv1.2', 'TLSv1.3']).default('TLSv1.2'),
  })
  .refine((t) => (t.cert === undefined) === (t.key === undefined), {
    message:
      'cert and key go together: give both, or neither for a generated self-signed certificate',
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

const route = z
  .strictObject({
    domains: z.array(domainName).min(1),
    nextHop: z.string().refine((h) => h === 'mx' || parseHostPort(h) !== undefined, {
      message: 'expected "mx" or host[:port], with IPv6 addresses in brackets: [2001:db8::1]:25',
    }),
    /**
     * The least TLS this route accepts (a ladder, RFC 7435 §1.3 for may): none never tries,
     * may encrypts when it can, encrypt refuses plaintext, verify also checks chain and name.
     */
    tls: z.enum(['none', 'may', 'encrypt', 'verify']).default('may'),
    /** Trust anchors (PEM file) for verifying this route's next hop instead of the system roots. */
    ca: z.string().min(1).optional(),
    /** Client certificate and key (PEM files) presented to the next hop: mutual TLS. */
    clientCert: z.string().min(1).optional(),
    clientKey: z.string().min(1).optional(),
    /**
     * Lowest protocol offered. Below TLSv1.2 only on `may` routes: a legacy hop then gets weak
     * encryption rather than none (RFC 8996 deprecates TLS 1.0 and 1.1 everywhere else).
     */
    minVersion: z.enum(['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3']).default('TLSv1.2'),
    /** Honour the MTA-STS policies of MX destinations (RFC 8461); default on for `nextHop: mx`. */
    mtaSts: z.boolean().optional(),
    /** Refuse (451 4.7.5) a destination that falls below the best TLS it reached before. */
    enforceHistory: z.boolean().default(false),
  })
  .superRefine((r, ctx) => {
    const issue = (path: string, message: string): void =>
      ctx.addIssue({ code: 'custom', path: [path], message });
    if ((r.clientCert === undefined) !== (r.clientKey === undefined)) {
      issue('clientCert', 'clientCert and clientKey go together: give both, or neither');
    }
    if (r.tls === 'none') {
      for (const key of ['ca', 'clientCert', 'clientKey'] as const) {
        if (r[key] !== undefined) issue(key, `${key} has no use on a route with tls: none`);
      }
    }
    if ((r.minVersion === 'TLSv1' || r.minVersion === 'TLSv1.1') && r.tls !== 'may') {
      issue('minVersion', `${r.minVersion} is allowed on tls: may routes only (RFC 8996)`);
    }
    if (r.mtaSts === true && r.nextHop !== 'mx') {
      issue('mtaSts', 'MTA-STS applies to MX delivery: set nextHop: mx or drop mtaSts');
    }
  });

/** Per-instance state about next hops (DESIGN invariant 7: nothing here is needed to be correct). */
const CONNECTION_CACHE_DEFAULTS = {
  enabled: true,
  maxIdlePerHop: 16,
  maxIdle: 256,
  idleSeconds: 30,
  maxAgeSeconds: 300,
  maxTransactions: 100,
};

const outbound = z.strictObject({
  /** The best TLS each destination reached, for downgrade detection and `tls-history`. */
  history: z
    .strictObject({
      maxEntries: z.number().int().min(1).max(10_000_000).default(100_000),
      /** Keep it in stateDir/tls-history.json across restarts. */
      persist: z.boolean().default(true),
    })
    .default({ maxEntries: 100_000, persist: true }),
  mtaSts: z
    .strictObject({
      /** Cached policies (RFC 8461 §5.1), least recently used evicted first. */
      maxEntries: z.number().int().min(1).max(10_000_000).default(10_000),
      /** Keep policies in stateDir/mta-sts.json across restarts. */
      persist: z.boolean().default(true),
    })
    .default({ maxEntries: 10_000, persist: true }),
  tlsRpt: z
    .strictObject({
      /** Count sessions per policy domain and write the daily reports (RFC 8460). */
      enabled: z.boolean().default(false),
      organization: z.string().min(1).optional(),
      contact: z.string().min(1).optional(),
      /** POST each report to the domain's https: rua (RFC 8460 §5.3.2). */
      submit: z.boolean().default(false),
      /**
       * Also count domains without an MTA-STS policy (`no-policy-found`): a report per domain
       * and day for every domain mail went to. Off: reports cover the domains with a policy.
       */
      noPolicyDomains: z.boolean().default(false),
    })
    .default({ enabled: false, submit: false, noPolicyDomains: false }),
  /** Warm next-hop sessions shared by client sessions bound to the same next hop. */
  connectionCache: z
    .strictObject({
      enabled: z.boolean().default(true),
      /** Idle sessions kept per next hop; the longest idle is closed first. */
      maxIdlePerHop: z.number().int().min(1).max(10_000).default(16),
      /** Idle sessions kept in all. */
      maxIdle: z.number().int().min(1).max(100_000).default(256),
      /** QUIT after this long unused: well under the 5 minutes a server waits (RFC 5321 §4.5.3.2.7). */
      idleSeconds: z.number().int().min(1).max(300).default(30),
      /** Not reused once this old (Postfix smtp_connection_reuse_time_limit). */
      maxAgeSeconds: z.number().int().min(1).max(86_400).default(300),
      /** Not reused after this many transactions (Postfix smtp_connection_reuse_count_limit). */
      maxTransactions: z.number().int().min(1).max(1_000_000).default(100),
    })
    .default(CONNECTION_CACHE_DEFAULTS),
  /** TLS sessions offered for resumption towards next hops (RFC 8446 §2.2). */
  tlsResumption: z
    .strictObject({
      enabled: z.boolean().default(true),
      /** Next-hop endpoints (address, port, name, trust settings) remembered. */
      maxEntries: z.number().int().min(1).max(1_000_000).default(10_000),
    })
    .default({ enabled: true, maxEntries: 10_000 }),
});

const defaultRoutes = [
  {
    domains: ['*'],
    nextHop: 'mx',
    tls: 'may' as const,
    minVersion: 'TLSv1.2' as const,
    enforceHistory: false,
  },
];

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
    tls: tls.default({ minVersion: 'TLSv1.2' }),
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
    outbound: outbound.default({
      history: { maxEntries: 100_000, persist: true },
      mtaSts: { maxEntries: 10_000, persist: true },
      tlsRpt: { enabled: false, submit: false, noPolicyDomains: false },
      connectionCache: CONNECTION_CACHE_DEFAULTS,
      tlsResumption: { enabled: true, maxEntries: 10_000 },
    }),
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
