// Test-only: a real SMTP server (smtp-server) on loopback that parses what it accepts (mailparser)
// and can refuse the next mails with a given SMTP answer (a 4xx for a transient failure).
import type { AddressInfo } from 'node:net';
import { type ParsedMail, simpleParser } from 'mailparser';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';

/** A running SMTP server on loopback and the mails it accepted (parsed before the 250 answer). */
export interface Relay {
  server: SMTPServer;
  port: number;
  received: ParsedMail[];
  envelopes: string[][];
  auths: { username: string | undefined; password: string | undefined }[];
  /** Answers for the next mails' DATA, taken one per mail: `451` refuses that mail with 451. */
  refuseNext: number[];
  /** Resolves with the first mail accepted from now on for which `match` is true. */
  next(match: (mail: ParsedMail) => boolean): Promise<ParsedMail>;
}

/** Starts a relay: AUTH optional (user `mailer`, password `relay-password`), STARTTLS only with a key. */
export async function startRelay(options: SMTPServerOptions = {}): Promise<Relay> {
  const waiters: { match: (mail: ParsedMail) => boolean; resolve: (mail: ParsedMail) => void }[] = [];
  const relay = { received: [], envelopes: [], auths: [], refuseNext: [] } as unknown as Relay;
  relay.next = (match) => new Promise((resolve) => waiters.push({ match, resolve }));
  relay.server = new SMTPServer({
    authOptional: true,
    disabledCommands: options.key ? [] : ['STARTTLS'],
    logger: false,
    ...options,
    onAuth(auth, _session, callback) {
      relay.auths.push({ username: auth.username, password: auth.password ?? undefined });
      if (auth.username === 'mailer' && auth.password === 'relay-password')
        callback(null, { user: 'mailer' });
      else callback(new Error('invalid credentials'));
    },
    onData(stream, session, callback) {
      const refusal = relay.refuseNext.shift();
      if (refusal !== undefined) {
        stream.resume();
        stream.on('end', () =>
          callback(
            Object.assign(new Error(`refused by the test for <${session.envelope.rcptTo[0]?.address}>`), {
              responseCode: refusal,
            }),
          ),
        );
        return;
      }
      simpleParser(stream).then(
        (mail) => {
          relay.received.push(mail);
          relay.envelopes.push(session.envelope.rcptTo.map((r) => r.address));
          for (const waiter of waiters.filter((w) => w.match(mail))) {
            waiters.splice(waiters.indexOf(waiter), 1);
            waiter.resolve(mail);
          }
          callback();
        },
        (error: Error) => callback(error),
      );
    },
  });
  await new Promise<void>((resolve, reject) => {
    relay.server.once('error', reject);
    relay.server.listen(0, '127.0.0.1', () => resolve());
  });
  relay.port = (relay.server.server.address() as AddressInfo).port;
  return relay;
}

/** Stops a relay (its connections are closed). */
export async function stopRelay(relay: Relay | undefined): Promise<void> {
  if (relay) await new Promise<void>((resolve) => relay.server.close(() => resolve()));
}
