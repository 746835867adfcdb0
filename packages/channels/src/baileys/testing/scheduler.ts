import type { Scheduler } from '../scheduler.ts';

/** A scheduled call. */
export interface ScheduledCall {
  ms: number;
  cancelled: boolean;
  ran: boolean;
  fn: () => void;
}

/** A scheduler that runs nothing until the test says so, and remembers every delay asked for. */
export class ManualScheduler implements Scheduler {
  /** Every call scheduled, in order. */
  readonly calls: ScheduledCall[] = [];

  setTimeout(fn: () => void, ms: number): () => void {
    const call: ScheduledCall = { ms, cancelled: false, ran: false, fn };
    this.calls.push(call);
    return () => {
      call.cancelled = true;
    };
  }

  /** Calls neither run nor cancelled. */
  pending(): ScheduledCall[] {
    return this.calls.filter((c) => !c.cancelled && !c.ran);
  }

  /** Runs the oldest pending call; throws when there is none. */
  runNext(): ScheduledCall {
    const call = this.pending()[0];
    if (!call) throw new Error('nothing is scheduled');
    call.ran = true;
    call.fn();
    return call;
  }
}
