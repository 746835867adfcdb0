/**
 * The emulator's memory: the business numbers, what the business sent and uploaded, injected
 * failures, every webhook delivery, and the timers of automatic statuses. The route modules read
 * and change it; nothing here knows HTTP routes.
 */
import { type DeliveryRecord, deliverWebhook, type RetryPolicy, signatureHeader } from './webhooks.ts';
import { type SendRequest, type StatusEntry, webhookEnvelope } from './wire.ts';

/** A business phone number the emulated account owns. */
export interface EmulatedPhoneNumber {
  /** Graph's phone number id (the path segment of sends). */
  id: string;
  /** The number customers write to, digits. */
  displayPhoneNumber: string;
  verifiedName?: string;
}

/** How statuses follow a business send. */
export type StatusMode =
  /** sent -> delivered -> read on their own, each after its delay. */
  | { mode: 'auto'; delaysMs?: { sent?: number; delivered?: number; read?: number } }
  /** Only when the control API says so. */
  | { mode: 'manual' };

/** One message the business sent, as the control API lists it. */
export interface BusinessMessage {
  id: string;
  phoneNumberId: string;
  to: string;
  type: SendRequest['type'];
  /** The request body as the business sent it. */
  request: SendRequest;
  /** Every status delivered so far, oldest first. */
  statuses: StatusEntry['status'][];
  timestamp: number;
}

/** A file a customer sent or the business uploaded. */
export interface StoredMedia {
  bytes: Buffer;
  mimeType: string;
  /** Hex SHA-256 of the bytes. */
  sha256: string;
  fileName?: string;
  /** The phone number id that uploaded it (business uploads only). */
  uploadedBy?: string;
}

/** A Graph error the next sends answer with (`POST /_emulator/failures`). */
export interface InjectedFailure {
  remaining: number;
  code: number;
  subcode?: number;
  status?: number;
  message?: string;
  details: string;
}

/** The number used when none is configured. */
export const DEFAULT_PHONE: EmulatedPhoneNumber = {
  id: '100000000000001',
  displayPhoneNumber: '15550000001',
  verifiedName: 'Switchboard Test',
};

/** What {@link EmulatorState} is built from. */
export interface EmulatorStateOptions {
  phones: EmulatedPhoneNumber[];
  businessAccountId: string;
  appSecret: string;
  retry: RetryPolicy;
  statusMode: StatusMode;
  /** Recipients (digits) whose sends fail with 131026. */
  unreachable: ReadonlySet<string>;
  webhookUrl: string | undefined;
}

/** See the module comment. */
export class EmulatorState {
  readonly phones: EmulatedPhoneNumber[];
  readonly sent = new Map<string, BusinessMessage>();
  readonly media = new Map<string, StoredMedia>();
  readonly deliveries: DeliveryRecord[] = [];
  readonly failures: InjectedFailure[] = [];
  /** Messages customers sent, by wamid: what a mark-as-read request may name. */
  readonly customerMessages = new Map<string, { from: string; phoneNumberId: string }>();
  /** Every mark-as-read request Graph accepted, in order. */
  readonly reads: { messageId: string; phoneNumberId: string; at: number }[] = [];
  /** Where webhooks go; none: recorded, not sent. */
  webhookUrl: string | undefined;
  /** The server's own URL, once it listens (media URLs point at it). */
  baseUrl = '';

  readonly #options: EmulatorStateOptions;
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #closing = new AbortController();
  // Statuses of one message go out in order: each waits for the previous delivery.
  readonly #statusChains = new Map<string, Promise<unknown>>();
  #seq = 0;

  constructor(options: EmulatorStateOptions) {
    this.#options = options;
    this.phones = options.phones;
    this.webhookUrl = options.webhookUrl;
  }

  /** The business number with this phone number id. */
  phoneById(id: string): EmulatedPhoneNumber | undefined {
    return this.phones.find((p) => p.id === id);
  }

  /** Delivers `value` in Meta's envelope for `phone`'s number. */
  async deliver(phone: EmulatedPhoneNumber, value: Record<string, unknown>): Promise<DeliveryRecord> {
    const rawBody = JSON.stringify(
      webhookEnvelope(
        this.#options.businessAccountId,
        { display_phone_number: phone.displayPhoneNumber, phone_number_id: phone.id },
        value,
      ),
    );
    return await this.deliverRaw(rawBody);
  }

  /** Signs and delivers `rawBody` as it is, with retries; recorded either way. */
  async deliverRaw(rawBody: string): Promise<DeliveryRecord> {
    const { appSecret, retry } = this.#options;
    const webhookUrl = this.webhookUrl;
    const record: DeliveryRecord = {
      seq: ++this.#seq,
      url: webhookUrl ?? '',
      rawBody,
      signature: signatureHeader(rawBody, appSecret),
      attempts: [],
      delivered: false,
    };
    this.deliveries.push(record);
    if (!webhookUrl) return record;
    return await deliverWebhook({
      url: webhookUrl,
      rawBody,
      appSecret,
      retry,
      record,
      signal: this.#closing.signal,
    });
  }

  /** Records `status` on `message` and delivers its webhook after the message's earlier ones. */
  pushStatus(
    message: BusinessMessage,
    status: StatusEntry['status'],
    error?: StatusEntry['errors'],
  ): Promise<DeliveryRecord> {
    const phone = this.phoneById(message.phoneNumberId) ?? DEFAULT_PHONE;
    const entry: StatusEntry = {
      id: message.id,
      status,
      timestamp: String(Math.floor(Date.now() / 1000)),
      recipient_id: message.to,
      ...(message.request.biz_opaque_callback_data
        ? { biz_opaque_callback_data: message.request.biz_opaque_callback_data }
        : {}),
      ...(error ? { errors: error } : {}),
    };
    message.statuses.push(status);
    const previous = this.#statusChains.get(message.id) ?? Promise.resolve();
    const next = previous.then(() => this.deliver(phone, { statuses: [entry] }));
    this.#statusChains.set(message.id, next);
    return next;
  }

  /** After a send: 131026 for unreachable recipients, else sent -> delivered -> read in auto mode. */
  autoStatuses(message: BusinessMessage): void {
    if (this.#options.unreachable.has(message.to)) {
      this.#schedule(0, () => {
        void this.pushStatus(message, 'failed', [
          {
            code: 131026,
            title: 'Message undeliverable',
            message: 'Message undeliverable',
            error_data: { details: 'Message Undeliverable.' },
          },
        ]);
      });
      return;
    }
    const statusMode = this.#options.statusMode;
    if (statusMode.mode !== 'auto') return;
    const d = { sent: 10, delivered: 20, read: 30, ...statusMode.delaysMs };
    this.#schedule(d.sent, () => {
      void this.pushStatus(message, 'sent');
      this.#schedule(d.delivered, () => {
        void this.pushStatus(message, 'delivered');
        this.#schedule(d.read, () => void this.pushStatus(message, 'read'));
      });
    });
  }

  /** Stops pending status timers and webhook retries. */
  close(): void {
    this.#closing.abort();
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
  }

  #schedule(ms: number, run: () => void): void {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      run();
    }, ms);
    this.#timers.add(timer);
  }
}

/** A delivery as the control API answers it (without the body). */
export function deliverySummary(d: DeliveryRecord) {
  return { seq: d.seq, url: d.url, attempts: d.attempts, delivered: d.delivered };
}
