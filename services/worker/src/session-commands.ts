import { type Channel, ChannelError } from '@switchboard/channels';
import {
  type GroupCommandResult,
  QUEUE_NAMES,
  queuePrefix,
  type SessionCommand,
  sessionCommandSchema,
} from '@switchboard/messaging';
import { DelayedError, type Job, UnrecoverableError, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { runGroupOperation } from './groups.ts';

/**
 * The consumer of one held session's command queue (`QUEUE_NAMES.sessionCommands`): what only the
 * socket's holder can do, asked for by the API. Started when the worker gains the session, stopped
 * before its channel closes, like the outbound consumer; a command added while no worker holds
 * the session waits in the queue for the next holder.
 *
 * The outcome is not a reply: `logout` ends with the session `logged_out` (recorded and announced
 * by the runtime's state path), `pairing-code` with a `code` challenge published by the runtime's
 * pairing path, `conversation-opened` with read receipts on the channel and a presence
 * subscription (whose typing events presence.ts relays).
 */

/** Options for {@link SessionCommandConsumer}. */
export interface SessionCommandConsumerOptions {
  tenantId: string;
  sessionId: string;
  channel: Channel;
  /** A `worker`-role connection (`maxRetriesPerRequest: null`): BullMQ blocks on it. */
  connection: Redis;
  keyPrefix: string;
  /** A command interrupted by the hand-over waits this long before the next holder takes it (default 1 s). */
  handOverDelayMs?: number;
  onError?: (error: unknown, context: { jobId?: string; what: string }) => void;
}

/** What processing one command did (a group operation: its result, which the API waits for). */
export type SessionCommandOutcome =
  | 'logged-out'
  | 'pairing-code-requested'
  | 'conversation-opened'
  | GroupCommandResult;

/** See the module comment. */
export class SessionCommandConsumer {
  private readonly options: SessionCommandConsumerOptions;
  private worker: Worker | undefined;
  private readonly stopping = new AbortController();

  constructor(options: SessionCommandConsumerOptions) {
    this.options = options;
  }

  /** Starts consuming (waiting commands first). */
  async start(): Promise<void> {
    if (this.worker) return;
    const { connection, keyPrefix, sessionId } = this.options;
    // One at a time: a logout and a pairing-code request must not interleave on one socket.
    this.worker = new Worker(
      QUEUE_NAMES.sessionCommands(sessionId),
      async (job, token) => await this.process(job, token),
      { connection, prefix: queuePrefix(keyPrefix), concurrency: 1 },
    );
    this.worker.on('error', (error) => this.options.onError?.(error, { what: 'session command worker' }));
    await this.worker.waitUntilReady();
  }

  /** Stops consuming; a command in progress is handed to the next holder instead of being waited for. */
  async stop(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    this.stopping.abort();
    await worker?.close();
  }

  /** Processes one job (the Worker's processor). */
  async process(job: Job, token?: string): Promise<SessionCommandOutcome> {
    const parsed = sessionCommandSchema.safeParse(job.data);
    if (!parsed.success) {
      const issues = parsed.error.issues
        .map((i) => `${i.path.join('.') || 'command'}: ${i.message}`)
        .join('; ');
      throw new UnrecoverableError(`session command ${job.id} is invalid: ${issues}`);
    }
    const command = parsed.data;
    if (command.tenantId !== this.options.tenantId)
      throw new UnrecoverableError(`session command ${job.id} belongs to another tenant`);
    if (command.sessionId !== this.options.sessionId)
      throw new UnrecoverableError(
        `session command ${job.id} is for session ${command.sessionId}, not this queue's`,
      );
    try {
      return await this.run(command);
    } catch (error) {
      if (this.stopping.signal.aborted && token) {
        // The session is being handed over: the next holder runs it, no attempt spent.
        await job.moveToDelayed(Date.now() + (this.options.handOverDelayMs ?? 1_000), token);
        throw new DelayedError();
      }
      if (error instanceof ChannelError && error.unrecoverable)
        throw new UnrecoverableError(
          `session command ${job.id} (${command.type}): ${error.code}: ${error.message}`,
        );
      throw error;
    }
  }

  private async run(command: SessionCommand): Promise<SessionCommandOutcome> {
    const { channel } = this.options;
    switch (command.type) {
      case 'logout':
        await channel.logout();
        return 'logged-out';
      case 'pairing-code':
        // The code is published by the runtime's pairing listener (TTL'd key + session.pairing
        // event); waiting here only tells BullMQ whether it worked. A hand-over aborts the wait.
        await abortable(channel.requestPairingCode(command.phoneNumber), this.stopping.signal);
        return 'pairing-code-requested';
      case 'group':
        return await runGroupOperation(channel, command.operation);
      case 'conversation-opened':
        // Blue ticks for what the API chose (only messages not marked before), then the chat's
        // typing indicator (presence.ts relays it); channels without either skip that part.
        if (command.read.length > 0 && channel.markRead) await channel.markRead(command.chat, command.read);
        if (channel.subscribePresence) await channel.subscribePresence(command.chat);
        return 'conversation-opened';
    }
  }
}

function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    // The wait ends here; the channel's own promise still settles later (a disconnect rejects
    // it), and must not surface as an unhandled rejection.
    promise.catch(() => undefined);
    return Promise.reject(new Error('session is being handed over'));
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new Error('session is being handed over'));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
