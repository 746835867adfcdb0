// The worker's campaign loop (issue #20.3): every replica runs the tenant's CampaignRunner
// (packages/messaging campaigns/runner.ts) on a timer. Replicas share the work safely: each batch
// takes its recipient rows FOR UPDATE SKIP LOCKED, and a recipient's message is created with
// its row in one transaction, so two replicas never send to the same recipient.
import { CampaignRunner, type CampaignRunnerOptions } from '@switchboard/messaging';

/** Options of {@link CampaignLoop}. */
export interface CampaignLoopOptions extends CampaignRunnerOptions {
  /** Time between two ticks (default 2 s). */
  intervalMs?: number;
}

/** Runs the campaign runner: recovery once at start, then a tick every interval, until closed. */
export class CampaignLoop {
  readonly runner: CampaignRunner;
  private readonly options: CampaignLoopOptions;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private running = false;
  private current: Promise<void> | undefined;

  constructor(options: CampaignLoopOptions) {
    this.options = options;
    this.runner = new CampaignRunner(options);
  }

  /** Starts: adds the jobs a crash may have left unadded, then ticks. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.current = this.runner
      .recover()
      .catch((error: unknown) => this.options.onError?.(error, { what: 'campaign recovery' }))
      .then(() => this.schedule(0));
  }

  private schedule(delayMs: number): void {
    if (!this.running) return;
    this.timer = setTimeout(() => {
      this.current = this.runner
        .tick()
        .then(
          () => undefined,
          (error: unknown) => this.options.onError?.(error, { what: 'campaign tick' }),
        )
        .then(() => this.schedule(this.options.intervalMs ?? 2_000));
    }, delayMs);
  }

  /** Stops ticking, waits for the tick in flight, and closes the runner's queues. */
  async close(): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    await this.current;
    await this.runner.close();
  }
}
