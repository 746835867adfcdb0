import { type Db, withTenant } from '@switchboard/db';
import type { Job, Queue } from 'bullmq';
import { type OutboundJob, outboundJobSchema } from '../contracts.ts';

/**
 * Dead letters: outbound jobs that exhausted their attempts or failed for good, kept in the
 * session's queue (BullMQ's failed set) with their error. The worker's consumer and the API both
 * read and replay them through these functions, so a replay means the same thing from either.
 */

/** One dead letter as people read it. */
export interface DeadLetter {
  jobId: string;
  job: OutboundJob | undefined;
  /** The last error, as the consumer recorded it (never message content). */
  failedReason: string;
  attemptsMade: number;
  failedAt: Date | undefined;
}

function describe(job: Job): DeadLetter {
  const parsed = outboundJobSchema.safeParse(job.data);
  return {
    jobId: job.id ?? '',
    job: parsed.success ? parsed.data : undefined,
    failedReason: job.failedReason ?? '',
    attemptsMade: job.attemptsMade,
    failedAt: job.finishedOn === undefined ? undefined : new Date(job.finishedOn),
  };
}

/** Dead letters of a session's queue, newest first, `start`..`end` inclusive (BullMQ's order). */
export async function listDeadLetters(queue: Queue, start = 0, end = 99): Promise<DeadLetter[]> {
  return (await queue.getFailed(start, end)).map(describe);
}

/** Why a replay was refused. */
export class DeadLetterError extends Error {
  readonly reason: 'not-found' | 'not-failed';
  constructor(reason: 'not-found' | 'not-failed', jobId: string) {
    super(
      reason === 'not-found'
        ? `dead letter ${jobId} does not exist`
        : `job ${jobId} is not a dead letter (not failed)`,
    );
    this.name = 'DeadLetterError';
    this.reason = reason;
  }
}

/**
 * Puts a dead letter back: its message (if failed) returns to `queued` with a status event, a
 * failed scheduled message to `scheduled`, and the job is retried with fresh attempts.
 */
export async function replayDeadLetter(db: Db, tenantId: string, queue: Queue, jobId: string): Promise<void> {
  const job = (await queue.getJob(jobId)) as Job<OutboundJob> | undefined;
  if (!job) throw new DeadLetterError('not-found', jobId);
  if ((await job.getState()) !== 'failed') throw new DeadLetterError('not-failed', jobId);
  const parsed = outboundJobSchema.parse(job.data);
  await withTenant(db, tenantId, async (tx) => {
    const messageId =
      parsed.kind === 'send'
        ? parsed.messageId
        : (await tx.scheduledMessage.findUnique({ where: { id: parsed.scheduledMessageId } }))?.messageId;
    if (parsed.kind === 'scheduled')
      await tx.scheduledMessage.updateMany({
        where: { id: parsed.scheduledMessageId, status: 'failed' },
        data: { status: 'scheduled', failureReason: null },
      });
    if (!messageId) return;
    const reset = await tx.message.updateMany({
      where: { id: messageId, status: 'failed' },
      data: { status: 'queued', failureReason: null },
    });
    if (reset.count > 0)
      await tx.messageStatusEvent.create({
        data: {
          tenantId,
          messageId,
          status: 'queued',
          reason: 'dead letter replayed',
          occurredAt: new Date(),
        },
      });
  });
  await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
}
