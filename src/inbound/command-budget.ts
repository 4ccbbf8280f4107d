/**
 * @module Pure per-session decisions about command lines, before smtp-server runs them: CR inside
 * a command (RFC 5321 §2.3.8), over-long lines (§4.5.3.1.4), the error budget and the junk-command
 * budget (Postfix `smtpd_hard_error_limit` 20, `smtpd_junk_command_limit` 100).
 */
import { replies } from '../smtp/replies.js';
import type { Reply } from '../smtp/reply.js';

/** Commands that move no mail: Postfix counts HELO, EHLO, RSET, NOOP, VRFY and ETRN. */
const JUNK = new Set(['HELO', 'EHLO', 'LHLO', 'RSET', 'NOOP', 'VRFY', 'HELP', 'EXPN', 'ETRN']);

/** Replies that say the client got the protocol wrong (syntax, sequence, unknown command). */
const ERROR_CODES = new Set([500, 501, 502, 503, 504, 555]);

export interface BudgetLimits {
  readonly maxCommandLength: number;
  readonly maxErrors: number;
  readonly maxJunkCommands: number;
}

export type LineVerdict =
  | { readonly kind: 'run' }
  /** Answer and go on with the next command. */
  | { readonly kind: 'refuse'; readonly reply: Reply; readonly violation: Violation }
  /** Answer (a 421) and close. */
  | { readonly kind: 'close'; readonly reply: Reply; readonly violation: Violation };

export type Violation =
  | 'command_too_long'
  | 'cr_in_command'
  | 'unknown_command'
  | 'too_many_errors'
  | 'too_many_junk_commands'
  | 'unauthorized_pipelining';

export function commandName(line: Buffer): string {
  const text = line.toString('latin1');
  const space = text.indexOf(' ');
  return (space < 0 ? text : text.slice(0, space)).toUpperCase();
}

export class CommandBudget {
  #errors = 0;
  #junk = 0;

  constructor(private readonly limits: BudgetLimits) {}

  /** Checks a complete command line (CRLF removed); `known` says smtp-server has a handler. */
  check(line: Buffer, known: boolean): LineVerdict {
    if (line.length > this.limits.maxCommandLength)
      return { kind: 'refuse', reply: replies.commandTooLong, violation: 'command_too_long' };
    if (line.includes(0x0d))
      return { kind: 'refuse', reply: replies.crInCommand, violation: 'cr_in_command' };
    if (!known)
      return { kind: 'refuse', reply: replies.unknownCommand, violation: 'unknown_command' };
    if (JUNK.has(commandName(line)) && ++this.#junk > this.limits.maxJunkCommands)
      return {
        kind: 'close',
        reply: replies.tooManyJunkCommands,
        violation: 'too_many_junk_commands',
      };
    return { kind: 'run' };
  }

  /**
   * Counts a reply sent to the client; true when the error budget is now spent, and the session
   * is to be closed with 421 4.7.0 (Postfix checks this before reading the next command).
   */
  replied(code: number): boolean {
    if (!ERROR_CODES.has(code)) return false;
    this.#errors += 1;
    return this.#errors >= this.limits.maxErrors;
  }

  /** A message was accepted: the session is doing real work, both budgets start again. */
  delivered(): void {
    this.#errors = 0;
    this.#junk = 0;
  }
}
