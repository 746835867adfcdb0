/** One mail to send: a single recipient, a subject, and the same content as plain text and HTML. */
export interface OutgoingMail {
  to: string;
  subject: string;
  text: string;
  html: string;
}

/**
 * The mail port: how the API hands a mail to whatever delivers it. `send` resolves once the
 * server accepted the mail and rejects when it did not; `close` ends its connections.
 */
export interface MailTransport {
  send(mail: OutgoingMail): Promise<void>;
  close(): Promise<void>;
}
