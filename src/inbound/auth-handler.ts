/**
 * @module smtp-server's onAuth for a listener: hands PLAIN and LOGIN credentials to the
 * Authenticator, delays failures, counts outcomes, and logs the attempt without its password.
 */
import type {
  SMTPServerAuthentication,
  SMTPServerAuthenticationResponse,
  SMTPServerSession,
} from 'smtp-server';
import type { Authenticator } from '../auth/authenticator.js';
import type { Grant } from '../auth/passthrough.js';
import { toServerError } from '../smtp/server-reply.js';
import { replyText } from '../smtp/reply.js';
import type { Logger } from '../telemetry/logger.js';
import type { Metrics } from '../telemetry/metrics.js';

type AuthCallback = (
  err: Error | null | undefined,
  response?: SMTPServerAuthenticationResponse,
) => void;

const MECHANISMS = new Set(['PLAIN', 'LOGIN']);

export function authHandler(
  authenticator: Authenticator<Grant>,
  listener: string,
  logger: Logger,
  metrics: Metrics,
  onGrant: (session: SMTPServerSession, grant: Grant) => void,
) {
  return (
    auth: SMTPServerAuthentication,
    session: SMTPServerSession,
    callback: AuthCallback,
  ): void => {
    const mechanism = MECHANISMS.has(auth.method) ? auth.method : 'other';
    const username = auth.username ?? '';
    authenticator
      .authenticate({
        mechanism,
        username,
        password: auth.password ?? '',
        clientAddress: session.remoteAddress,
        inTransaction: Boolean(session.envelope.mailFrom),
      })
      .then(
        (decision) => {
          const outcome = decision.ok ? 'success' : decision.outcome;
          metrics.authAttempts.inc({ listener, mechanism, outcome });
          logger.info(
            {
              event: 'auth',
              session: session.id,
              client: session.remoteAddress,
              mechanism,
              user: username,
              outcome,
              ...(decision.ok ? {} : { reply: replyText(decision.reply) }),
              ...(!decision.ok && decision.why !== undefined ? { why: decision.why } : {}),
            },
            'auth',
          );
          if (decision.ok) {
            if (decision.grant) onGrant(session, decision.grant);
            callback(null, { user: decision.user });
            return;
          }
          const reply = toServerError(decision.reply);
          if (decision.delayMs > 0) setTimeout(() => callback(reply), decision.delayMs);
          else callback(reply);
        },
        () => callback(new Error('internal error')),
      );
  };
}
