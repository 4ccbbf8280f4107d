/**
 * @module The AUTH decision for a listener: transaction state (RFC 4954 §4), failure budgets per
 * client address and per username, the password check, and a growing delay before each failure.
 * Only ever called after TLS: the listener neither advertises nor accepts AUTH before.
 */
import type { AuthConfig } from '../config/schema.js';
import { replies } from '../smtp/replies.js';
import type { Reply } from '../smtp/reply.js';
import { failureDelay, FailureBudget } from './failure-budget.js';

export interface AuthAttempt {
  readonly mechanism: string;
  readonly username: string;
  readonly password: string;
  readonly clientAddress: string;
  readonly inTransaction: boolean;
}

export type AuthOutcome = 'success' | 'failure' | 'throttled' | 'refused' | 'error';

export type AuthDecision<G = never> =
  | { readonly ok: true; readonly user: string; readonly grant?: G }
  | {
      readonly ok: false;
      readonly reply: Reply;
      readonly delayMs: number;
      readonly outcome: AuthOutcome;
      readonly why?: string;
    };

/** A credential check: `temporary` failures (the checker could not decide) are not counted. */
export type CheckResult<G = never> =
  | { readonly ok: true; readonly grant?: G }
  | { readonly ok: false; readonly temporary: boolean; readonly why?: string };

export interface CredentialCheck<G = never> {
  check(username: string, password: string): Promise<CheckResult<G>>;
}

/** The users file as a credential check. */
export function usersFileCheck(users: {
  verify(u: string, p: string): Promise<boolean>;
}): CredentialCheck {
  return {
    check: async (u, p) =>
      (await users.verify(u, p)) ? { ok: true } : { ok: false, temporary: false },
  };
}

export class Authenticator<G = never> {
  readonly #byAddress: FailureBudget;
  readonly #byUser: FailureBudget;

  constructor(
    private readonly credentials: CredentialCheck<G>,
    private readonly limits: AuthConfig['failures'],
    now: () => number = Date.now,
  ) {
    const windowMs = limits.windowSeconds * 1000;
    this.#byAddress = new FailureBudget({ maxFailures: limits.perAddress, windowMs }, 100_000, now);
    this.#byUser = new FailureBudget({ maxFailures: limits.perUser, windowMs }, 100_000, now);
  }

  async authenticate(a: AuthAttempt): Promise<AuthDecision<G>> {
    if (a.inTransaction)
      return { ok: false, reply: replies.authInTransaction, delayMs: 0, outcome: 'refused' };
    const userKey = a.username.toLowerCase();
    if (this.#byAddress.exhausted(a.clientAddress) || this.#byUser.exhausted(userKey)) {
      // The password is not even checked: a guess made now could never be confirmed.
      const reply =
        this.limits.whenExhausted === 'disconnect'
          ? replies.authThrottledClose
          : replies.authThrottled;
      return { ok: false, reply, delayMs: 0, outcome: 'throttled' };
    }
    let result: CheckResult<G>;
    try {
      result = await this.credentials.check(a.username, a.password);
    } catch {
      return { ok: false, reply: replies.authUnavailable, delayMs: 0, outcome: 'error' };
    }
    if (result.ok) {
      this.#byAddress.succeed(a.clientAddress);
      this.#byUser.succeed(userKey);
      return {
        ok: true,
        user: a.username,
        ...(result.grant !== undefined ? { grant: result.grant } : {}),
      };
    }
    if (result.temporary) {
      return {
        ok: false,
        reply: replies.authUnavailable,
        delayMs: 0,
        outcome: 'error',
        ...(result.why !== undefined ? { why: result.why } : {}),
      };
    }
    const failures = Math.max(this.#byAddress.fail(a.clientAddress), this.#byUser.fail(userKey));
    const delay = failureDelay(
      { baseMs: this.limits.delayMs, maxMs: this.limits.maxDelayMs },
      failures,
    );
    return { ok: false, reply: replies.authInvalid, delayMs: delay, outcome: 'failure' };
  }
}
