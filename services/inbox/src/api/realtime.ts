import { type ApiClient, ApiRequestError } from './client.ts';
import { type RealtimeEvent, realtimeEventSchema } from './schemas.ts';
import { SseParser } from './sse.ts';

/** What the connection is doing, for the "live" indicator. */
export type RealtimeState = 'connecting' | 'live' | 'reconnecting' | 'offline' | 'stopped';

/** Options of RealtimeConnection. */
export interface RealtimeConnectionOptions {
  client: ApiClient;
  onEvent: (event: RealtimeEvent) => void;
  onState?: (state: RealtimeState) => void;
  /** Called when the stream could not resume (the id was too old): everything shown must be refetched. */
  onResync?: () => void;
  /** First and longest wait between reconnects (ms). */
  backoff?: { initialMs: number; maxMs: number };
}

/** The API sends a comment every 15 s; this long without a byte means the connection is dead. */
const SILENCE_MS = 40_000;

/**
 * The tenant's realtime stream (GET /v1/realtime). Read with fetch and a ReadableStream because
 * the route authenticates with the Authorization header, which EventSource cannot send. Keeps
 * the id of the last event and, after any drop (network, server restart, the browser going
 * offline), reconnects with Last-Event-ID after a doubling, jittered wait, so the API replays what
 * happened meanwhile and nothing is missed.
 */
export class RealtimeConnection {
  private lastEventId: string | undefined;
  private running = false;
  private abort: AbortController | undefined;
  private wake: (() => void) | undefined;
  private state: RealtimeState = 'stopped';
  private readonly options: RealtimeConnectionOptions;

  constructor(options: RealtimeConnectionOptions) {
    this.options = options;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    window.addEventListener('offline', this.handleOffline);
    window.addEventListener('online', this.handleOnline);
    void this.loop();
  }

  stop(): void {
    this.running = false;
    window.removeEventListener('offline', this.handleOffline);
    window.removeEventListener('online', this.handleOnline);
    this.abort?.abort();
    this.wake?.();
    this.setState('stopped');
  }

  private readonly handleOffline = () => {
    this.setState('offline');
    this.abort?.abort();
  };

  private readonly handleOnline = () => {
    this.wake?.();
  };

  private setState(state: RealtimeState): void {
    if (this.state === state) return;
    this.state = state;
    this.options.onState?.(state);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }

  private async loop(): Promise<void> {
    const { initialMs, maxMs } = this.options.backoff ?? { initialMs: 500, maxMs: 15_000 };
    let attempt = 0;
    while (this.running) {
      if (!navigator.onLine) {
        this.setState('offline');
        // Woken by the 'online' event; the timeout is a guard against a missed event.
        await this.sleep(maxMs);
        continue;
      }
      this.setState(this.lastEventId === undefined && attempt === 0 ? 'connecting' : 'reconnecting');
      const connected = await this.readOnce();
      if (!this.running) return;
      if (connected) attempt = 0;
      attempt += 1;
      const wait = Math.min(maxMs, initialMs * 2 ** (attempt - 1));
      this.setState(navigator.onLine ? 'reconnecting' : 'offline');
      await this.sleep(wait / 2 + Math.random() * (wait / 2));
    }
  }

  /** One connection, until it ends; true when it was established. */
  private async readOnce(): Promise<boolean> {
    const abort = new AbortController();
    this.abort = abort;
    let silence: ReturnType<typeof setTimeout> | undefined;
    let established = false;
    const armSilence = () => {
      clearTimeout(silence);
      silence = setTimeout(() => abort.abort(), SILENCE_MS);
    };
    try {
      const headers: Record<string, string> = { accept: 'text/event-stream' };
      if (this.lastEventId) headers['last-event-id'] = this.lastEventId;
      const res = await this.options.client.fetch('GET', '/v1/realtime', { headers, signal: abort.signal });
      if (res.status === 400 && this.lastEventId) {
        // The id is no longer valid for this stream: start from now and refetch what is shown.
        await res.body?.cancel();
        this.lastEventId = undefined;
        this.options.onResync?.();
        return false;
      }
      if (!res.ok || !res.body) {
        await res.body?.cancel();
        return false;
      }
      this.setState('live');
      established = true;
      armSilence();
      const parser = new SseParser();
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        armSilence();
        for (const message of parser.push(value)) {
          if (message.id) this.lastEventId = message.id;
          let json: unknown;
          try {
            json = JSON.parse(message.data);
          } catch {
            continue;
          }
          const parsed = realtimeEventSchema.safeParse(json);
          // An event type this build does not know yet is skipped, not an error.
          if (parsed.success) this.options.onEvent(parsed.data);
        }
      }
      return true;
    } catch (error) {
      if (error instanceof ApiRequestError && error.status === 401) this.running = false;
      return established;
    } finally {
      clearTimeout(silence);
    }
  }
}
