// One open SSE stream of the realtime fan-out: its head, the backlog after Last-Event-ID, the live
// entries its tenant reader delivers, the bound on what it may leave buffered, and its final event.
import type { ServerResponse } from 'node:http';
import type { Redis } from 'ioredis';
import type { Principal } from '../plugins/auth.ts';
import { type Frame, frameOf } from './frames.ts';
import { compareStreamIds } from './stream-ids.ts';

/** Why the API ended a stream; sent to the client in the final `stream.closed` event. */
export type StreamCloseReason =
  | 'member_removed'
  | 'credential_revoked'
  | 'session_ended'
  | 'token_expired'
  | 'slow_consumer'
  | 'unavailable'
  | 'shutting_down'
  | 'client_closed';

/** The final event's message per reason (the client sees it; nothing secret). */
const CLOSE_MESSAGES: Record<StreamCloseReason, string> = {
  member_removed: 'you are no longer a member of this tenant',
  credential_revoked: 'the API key was revoked or expired, or its creator is no longer a member',
  session_ended: 'this signed-in session was ended; sign in again',
  token_expired: 'the access token expired; reconnect with a fresh one and Last-Event-ID',
  slow_consumer: 'the client did not read fast enough; reconnect with Last-Event-ID',
  unavailable: 'the event stream could not be read; reconnect with Last-Event-ID',
  shutting_down: 'the server is shutting down; reconnect with Last-Event-ID',
  client_closed: 'the client closed the stream',
};

/** What a stream needs of the hub (RealtimeHub): the shared connection, the bounds, its end. */
export interface StreamHost {
  /** The shared connection the backlog is read on. */
  readonly redis: Redis;
  /** Entries per resumption page. */
  readonly readCount: number;
  /** Bytes the stream may leave waiting in this process before it is dropped. */
  readonly maxBufferedBytes: number;
  /** How long a slow stream's client has to read its buffer and final event before its socket is cut, ms. */
  readonly slowCloseGraceMs: number;
  /** The stream ended, for `reason`. */
  streamClosed(stream: RealtimeStream, reason: StreamCloseReason): void;
  /** A slow stream's response is flushing its final event: the hub cuts it at shutdown. */
  lingering(res: ServerResponse): void;
}

/** What a stream needs of its tenant reader (TenantReader). */
export interface StreamSource {
  /** The tenant stream's key. */
  readonly key: string;
  /** The id of the newest entry read: where a stream without Last-Event-ID starts. */
  readonly last: string;
  /** True once the reader stopped: a stream must not start on it. */
  readonly stopped: boolean;
  /** The open streams it delivers to. */
  readonly streams: Set<RealtimeStream>;
}

const CONNECTED = Buffer.from(': connected\n\n');
const KEEPALIVE = Buffer.from(': keepalive\n\n');
// setTimeout fires at once for delays past 2^31 - 1 ms; such expiries are left to the re-check.
const MAX_TIMER_MS = 2 ** 31 - 1;

/** One open SSE stream. */
export class RealtimeStream {
  /** The id of the last entry this stream has passed (sent or skipped). */
  private cursor = '0-0';
  private state: 'catching_up' | 'live' | 'closed' = 'live';
  /** Live entries that arrived while the backlog was read; sent after it. */
  private pending: { id: string; frame: Buffer }[] = [];
  private pendingBytes = 0;
  private expiryTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly hub: StreamHost;
  private readonly res: ServerResponse;
  readonly reader: StreamSource;
  readonly principal: Principal;
  readonly principalKey: string;
  /** When the credential expires (epoch ms), if it does. */
  readonly expiresAt: number | undefined;

  constructor(
    hub: StreamHost,
    reader: StreamSource,
    principal: Principal,
    who: string,
    res: ServerResponse,
    expiresAt: number | undefined,
  ) {
    this.hub = hub;
    this.reader = reader;
    this.principal = principal;
    this.principalKey = who;
    this.res = res;
    this.expiresAt = expiresAt;
  }

  begin(resumeFrom: string | undefined): void {
    this.cursor = resumeFrom ?? this.reader.last;
    this.reader.streams.add(this);
    this.res.on('close', () => this.close('client_closed'));
    this.res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    this.res.write(CONNECTED);
    // The client may have gone while the stream was admitted: 'close' has fired already then.
    if (this.res.destroyed) {
      this.close('client_closed');
      return;
    }
    // Its reader failed while the stream was admitted: the client reconnects to a new one.
    if (this.reader.stopped) {
      this.close('unavailable');
      return;
    }
    if (this.expiresAt !== undefined) {
      const delay = this.expiresAt - Date.now();
      if (delay <= 0) {
        this.close('token_expired');
        return;
      }
      if (delay <= MAX_TIMER_MS) {
        this.expiryTimer = setTimeout(() => this.close('token_expired'), delay);
        this.expiryTimer.unref();
      }
    }
    if (resumeFrom !== undefined) {
      this.state = 'catching_up';
      void this.catchUp();
    }
  }

  /**
   * A read's entries from the reader (the same buffers every stream gets): written as one buffer
   * when the stream is live and has sent none of them, else entry by entry.
   */
  deliverBatch(batch: readonly Frame[], joined: Buffer): void {
    if (this.state === 'live' && compareStreamIds(batch[0]!.id, this.cursor) > 0) {
      this.cursor = batch[batch.length - 1]!.id;
      this.write(joined);
      return;
    }
    for (const { id, frame } of batch) this.deliver(id, frame);
  }

  /** A live entry (the same frame every stream gets). */
  deliver(id: string, frame: Buffer): void {
    if (this.state === 'closed') return;
    if (this.state === 'catching_up') {
      this.pending.push({ id, frame });
      this.pendingBytes += frame.length;
      if (this.pendingBytes > this.hub.maxBufferedBytes) this.close('slow_consumer');
      return;
    }
    if (compareStreamIds(id, this.cursor) <= 0) return;
    this.cursor = id;
    this.write(frame);
  }

  /** True once the stream ended (a getter, so a check after an await is not narrowed away). */
  private get closed(): boolean {
    return this.state === 'closed';
  }

  keepalive(): void {
    if (this.state === 'live') this.write(KEEPALIVE);
  }

  /** Writes, then drops the stream if the bytes waiting in this process pass the bound. */
  private write(chunk: Buffer): void {
    this.res.write(chunk);
    if (this.res.writableLength > this.hub.maxBufferedBytes) this.close('slow_consumer');
  }

  /** The backlog after the resume id, page by page (waiting for the socket between pages). */
  private async catchUp(): Promise<void> {
    try {
      for (;;) {
        const page = await this.hub.redis.xrange(
          this.reader.key,
          `(${this.cursor}`,
          '+',
          'COUNT',
          this.hub.readCount,
        );
        if (this.closed) return;
        for (const [id, fields] of page) {
          this.cursor = id;
          const frame = frameOf(id, fields);
          if (frame) this.res.write(frame);
        }
        if (page.length < this.hub.readCount) break;
        // The next page only once the socket took this one: a backlog never piles up here.
        if (this.res.writableNeedDrain) await this.drained();
        if (this.closed) return;
      }
    } catch {
      this.close('unavailable');
      return;
    }
    // Everything up to the cursor is written; what the reader delivered meanwhile follows.
    const pending = this.pending;
    this.pending = [];
    this.pendingBytes = 0;
    this.state = 'live';
    for (const { id, frame } of pending) {
      if (this.closed) return;
      this.deliver(id, frame);
    }
    if (!this.closed && this.res.writableLength > this.hub.maxBufferedBytes) this.close('slow_consumer');
  }

  /** Resolves when the socket has taken what was written, or the stream closed. */
  private drained(): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.res.off('drain', done);
        this.res.off('close', done);
        resolve();
      };
      this.res.on('drain', done);
      this.res.on('close', done);
    });
  }

  /** Ends the stream: a final `stream.closed` event saying why, unless the client is gone or too slow. */
  close(reason: StreamCloseReason): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.pending = [];
    clearTimeout(this.expiryTimer);
    this.hub.streamClosed(this, reason);
    if (reason === 'client_closed') return;
    const data = JSON.stringify({ type: 'stream.closed', reason, message: CLOSE_MESSAGES[reason] });
    this.res.end(`event: stream.closed\ndata: ${data}\n\n`);
    if (reason === 'slow_consumer' && !this.res.destroyed) {
      // Nothing more is written: the final event waits behind the buffer (a few hundred bytes past
      // the bound), and a client that has not read it all within the grace has its socket cut.
      const cut = setTimeout(() => this.res.destroy(), this.hub.slowCloseGraceMs);
      cut.unref();
      this.res.once('close', () => clearTimeout(cut));
      // Read to its end: the connection closes rather than wait for another request (the
      // response lets go of its socket once finished, so the socket is taken now).
      const socket = this.res.socket;
      this.res.once('finish', () => socket?.destroy());
      this.hub.lingering(this.res);
    }
  }
}
