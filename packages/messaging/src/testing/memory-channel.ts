import type {
  Channel,
  ChannelEventName,
  ChannelListener,
  OutboundMessage,
  OutboundPresence,
  PairingChallenge,
  SendResult,
  SessionState,
} from '@switchboard/channels';

/** What a send does: resolve (sent), or throw the error to fail with. */
export type SendBehaviour = (message: OutboundMessage, attempt: number) => void | Promise<void>;

/**
 * Test-only: a connected Channel with no provider behind it. Sends are recorded (and, like
 * Baileys, keep the providerMessageId they were given); `behaviour` can throw ChannelErrors.
 */
export class MemoryChannel implements Channel {
  readonly kind = 'baileys' as const;
  readonly capabilities = { pairing: false, persistentConnection: true };
  readonly state: SessionState = 'connected';
  readonly sessionId: string;
  readonly sent: OutboundMessage[] = [];
  readonly presences: { to: string; presence: OutboundPresence }[] = [];
  behaviour: SendBehaviour | undefined;
  private readonly attempts = new Map<string, number>();
  private counter = 0;

  constructor(sessionId: string, behaviour?: SendBehaviour) {
    this.sessionId = sessionId;
    this.behaviour = behaviour;
  }

  async connect(): Promise<void> {}
  async disconnect(): Promise<void> {}
  async logout(): Promise<void> {}

  async send(message: OutboundMessage): Promise<SendResult> {
    const key = message.providerMessageId ?? `anon-${this.counter++}`;
    const attempt = (this.attempts.get(key) ?? 0) + 1;
    this.attempts.set(key, attempt);
    await this.behaviour?.(message, attempt);
    this.sent.push(message);
    return { providerMessageId: key, to: message.to, timestamp: new Date() };
  }

  async sendPresence(to: string, presence: OutboundPresence): Promise<void> {
    this.presences.push({ to, presence });
  }

  async requestPairingCode(): Promise<PairingChallenge> {
    throw new Error('MemoryChannel does not pair');
  }

  on<E extends ChannelEventName>(_event: E, _listener: ChannelListener<E>): () => void {
    return () => {};
  }
}
