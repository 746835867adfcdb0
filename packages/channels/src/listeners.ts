import type { ChannelEventName, ChannelEvents, ChannelListener } from './channel.ts';

/** Where a listener's failure is reported (the adapter's logger). */
export type ListenerFailureHandler = (event: ChannelEventName, error: unknown) => void;

/**
 * The listeners of one channel. A listener that throws or rejects is reported and the others
 * still run: the worker's handlers must not be able to break the provider's event loop (Baileys
 * calls us synchronously from inside its socket handlers).
 */
export class ChannelListeners {
  readonly #listeners = new Map<ChannelEventName, Set<ChannelListener<ChannelEventName>>>();
  readonly #onFailure: ListenerFailureHandler;

  /** Creates an empty registry that reports listener failures to `onFailure`. */
  constructor(onFailure: ListenerFailureHandler) {
    this.#onFailure = onFailure;
  }

  /** Adds a listener; returns the way to remove it. */
  on<E extends ChannelEventName>(event: E, listener: ChannelListener<E>): () => void {
    let set = this.#listeners.get(event);
    if (!set) {
      set = new Set();
      this.#listeners.set(event, set);
    }
    const stored = listener as ChannelListener<ChannelEventName>;
    set.add(stored);
    return () => {
      set.delete(stored);
    };
  }

  /** Calls every listener of `event` with `payload`. */
  emit<E extends ChannelEventName>(event: E, payload: ChannelEvents[E]): void {
    const set = this.#listeners.get(event);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        const result = (listener as ChannelListener<E>)(payload);
        if (result && typeof (result as Promise<void>).then === 'function') {
          (result as Promise<void>).then(undefined, (error: unknown) => this.#onFailure(event, error));
        }
      } catch (error) {
        this.#onFailure(event, error);
      }
    }
  }
}
