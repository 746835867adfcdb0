/**
 * The one place for telemetry names: metric definitions, span attribute names, log
 * field names. Dashboards, alert rules and runbooks refer to these strings, so a
 * rename here is a breaking change for them; add, do not rename.
 *
 * Metric names follow `switchboard_<component>_<thing>_<unit>`, counters end in
 * `_total`, units are base units (seconds, bytes). `checkMetricName` enforces it and
 * the test suite runs it over every definition below.
 */

/**
 * Prefix of every Switchboard metric. Node.js's default metrics keep prom-client's stock names
 * (`process_*`, `nodejs_*`) so stock dashboards work.
 */
export const METRIC_PREFIX = 'switchboard_';

/**
 * Units a gauge or histogram name may end in: Prometheus base units, `info` for
 * info-style gauges, and the countable things this platform measures. Add a unit
 * here when a new kind of thing is counted.
 */
export const METRIC_UNITS = [
  'seconds',
  'bytes',
  'ratio',
  'info',
  'messages',
  'sessions',
  'jobs',
  'requests',
  'connections',
  'deliveries',
  'events',
  'workers',
  'tenants',
  'items',
  'attempts',
  'leases',
] as const;

/** The kinds of metric `MetricsRegistry` creates. */
export type MetricType = 'counter' | 'gauge' | 'histogram';

/** A metric's name, type, help text and labels, declared once here and created with `MetricsRegistry`. */
export interface MetricDefinition {
  /** `switchboard_<component>_<thing>_<unit>`. */
  readonly name: string;
  /** Counter, gauge or histogram. */
  readonly type: MetricType;
  /** One line for `# HELP`. */
  readonly help: string;
  /** Label names; keep them low-cardinality (never a phone number or message id). */
  readonly labelNames: readonly string[];
  /**
   * The name another project defines (controller-runtime's controller and work queue metrics),
   * kept exactly so the dashboards built for it work; exempt from `checkMetricName`.
   */
  readonly stock?: true;
}

/** Every Switchboard metric. */
export const metricDefinitions = {
  /** Always 1, labelled with the running version, so PromQL can join a version onto any series. */
  buildInfo: {
    name: 'switchboard_service_build_info',
    type: 'gauge',
    help: 'Always 1; labelled with the running version of the service.',
    labelNames: ['version'],
  },

  // The operator's runtime (operator/src/runtime): controller-runtime's controller, workqueue
  // and leader-election metrics under controller-runtime's own names and labels (`stock`), so the
  // dashboards and alerts written for controller-runtime operators work unchanged.

  /** Reconciles finished, by outcome (`success`, `error`, `requeue`, `requeue_after`). */
  operatorReconcileTotal: {
    name: 'controller_runtime_reconcile_total',
    stock: true,
    type: 'counter',
    help: 'Reconciles finished, by controller and result (success, error, requeue, requeue_after).',
    labelNames: ['controller', 'result'],
  },
  /** Reconciles that threw (retried with backoff, or terminal). */
  operatorReconcileErrorsTotal: {
    name: 'controller_runtime_reconcile_errors_total',
    stock: true,
    type: 'counter',
    help: 'Reconciles that failed with an error, by controller.',
    labelNames: ['controller'],
  },
  /** How long one reconcile took. */
  operatorReconcileTime: {
    name: 'controller_runtime_reconcile_time_seconds',
    stock: true,
    type: 'histogram',
    help: 'Time one reconcile took, by controller.',
    labelNames: ['controller'],
  },
  /** Workers reconciling right now. */
  operatorReconcileActiveWorkers: {
    name: 'controller_runtime_active_workers',
    stock: true,
    type: 'gauge',
    help: 'Workers currently running a reconcile, by controller.',
    labelNames: ['controller'],
  },
  /** Workers a controller runs at most. */
  operatorReconcileMaxConcurrentWorkers: {
    name: 'controller_runtime_max_concurrent_reconciles',
    stock: true,
    type: 'gauge',
    help: 'Maximum number of concurrent reconciles, by controller.',
    labelNames: ['controller'],
  },
  /** Keys waiting in a work queue. */
  operatorWorkqueueDepth: {
    name: 'workqueue_depth',
    stock: true,
    type: 'gauge',
    help: 'Keys waiting in the work queue, by queue name.',
    labelNames: ['name'],
  },
  /** Keys that became dirty in a work queue. */
  operatorWorkqueueAddsTotal: {
    name: 'workqueue_adds_total',
    stock: true,
    type: 'counter',
    help: 'Keys added to the work queue (de-duplicated adds are not counted), by queue name.',
    labelNames: ['name'],
  },
  /** Delayed and rate-limited adds. */
  operatorWorkqueueRetriesTotal: {
    name: 'workqueue_retries_total',
    stock: true,
    type: 'counter',
    help: 'Keys scheduled for later (requeue after a delay or with backoff), by queue name.',
    labelNames: ['name'],
  },
  /** Time from add to being handed to a worker. */
  operatorWorkqueueQueueDuration: {
    name: 'workqueue_queue_duration_seconds',
    stock: true,
    type: 'histogram',
    help: 'Time a key waited in the work queue before a worker took it, by queue name.',
    labelNames: ['name'],
  },
  /** Time from a worker taking a key to marking it done. */
  operatorWorkqueueWorkDuration: {
    name: 'workqueue_work_duration_seconds',
    stock: true,
    type: 'histogram',
    help: 'Time a worker spent on a key, by queue name.',
    labelNames: ['name'],
  },
  /** Work in progress that has not finished; grows without bound when a worker is stuck. */
  operatorWorkqueueUnfinishedWork: {
    name: 'workqueue_unfinished_work_seconds',
    stock: true,
    type: 'gauge',
    help: 'Sum of how long every key in progress has been worked on, by queue name.',
    labelNames: ['name'],
  },
  /** The longest a key in progress has been worked on. */
  operatorWorkqueueLongestRunningProcessor: {
    name: 'workqueue_longest_running_processor_seconds',
    stock: true,
    type: 'gauge',
    help: 'How long the longest-running key in progress has been worked on, by queue name.',
    labelNames: ['name'],
  },
  /** 1 while this replica holds the leader-election Lease, else 0. */
  operatorLeaderElectionHeldLeases: {
    name: 'leader_election_master_status',
    stock: true,
    type: 'gauge',
    help: '1 while this replica holds the leader-election Lease, 0 otherwise, by Lease name.',
    labelNames: ['name'],
  },
  /** Watches an informer restarted, by why (closed, error, expired, watchdog). */
  operatorInformerWatchRestartsTotal: {
    name: 'switchboard_operator_informer_watch_restarts_total',
    type: 'counter',
    help: 'Watches an informer restarted, by informer and reason (closed, error, expired, watchdog).',
    labelNames: ['informer', 'reason'],
  },

  /** Tenants the operator watches, by status.phase; read from its informer cache at scrape time. */
  operatorTenants: {
    name: 'switchboard_operator_managed_tenants',
    type: 'gauge',
    help: "WhatsAppTenants in the operator's informer cache, by status.phase (Unknown before the first status), read at scrape time.",
    labelNames: ['phase'],
  },

  // Session ownership (packages/sessions): leases, claims and hand-overs of WhatsApp sessions.

  /** Sessions this worker holds the lease of right now. */
  sessionsOwned: {
    name: 'switchboard_sessions_owned_sessions',
    type: 'gauge',
    help: 'Sessions this worker holds the lease of.',
    labelNames: [],
  },
  /** Leases taken (each with a new fencing epoch). */
  sessionsClaimsTotal: {
    name: 'switchboard_sessions_claims_total',
    type: 'counter',
    help: 'Session leases acquired, each with a new fencing epoch.',
    labelNames: [],
  },
  /** Sessions given up, by reason (rebalanced, shutdown, lost, deadline, gone). */
  sessionsReleasesTotal: {
    name: 'switchboard_sessions_releases_total',
    type: 'counter',
    help: 'Sessions this worker stopped holding, by reason.',
    labelNames: ['reason'],
  },
  /** Sessions handed to another worker on purpose (rebalancing or shutdown). */
  sessionsHandoversTotal: {
    name: 'switchboard_sessions_handovers_total',
    type: 'counter',
    help: 'Sessions released on purpose so another worker claims them at once.',
    labelNames: ['reason'],
  },
  /** Leases lost: taken over, expired, or past the renewal deadline. Each is a page-worthy anomaly in steady state. */
  sessionsLostLeasesTotal: {
    name: 'switchboard_sessions_lost_leases_total',
    type: 'counter',
    help: 'Session leases lost (renewal refused or renewal deadline missed), by reason.',
    labelNames: ['reason'],
  },
  /** How long one round of lease renewals took. */
  sessionsLeaseRenewal: {
    name: 'switchboard_sessions_lease_renewal_seconds',
    type: 'histogram',
    help: 'Time to renew every lease this worker holds, one pipelined round trip.',
    labelNames: [],
  },

  /** Sessions this worker holds, by channel and connection state; read at scrape time. */
  sessionsStates: {
    name: 'switchboard_sessions_state_sessions',
    type: 'gauge',
    help: 'Sessions this worker holds, by channel and the state of their connection (unpaired, pairing, connecting, connected, disconnected, logged_out), read at scrape time.',
    labelNames: ['channel', 'state'],
  },
  /** Reconnects of held sessions' channels, by channel and the cause of the disconnect. */
  sessionsReconnectsTotal: {
    name: 'switchboard_sessions_reconnects_total',
    type: 'counter',
    help: 'Connection attempts made again after a held session disconnected, by channel and the disconnect cause.',
    labelNames: ['channel', 'reason'],
  },

  // The message pipelines (packages/messaging, wired in services/worker): counted where they
  // happen through `pipelineMetrics()` (pipeline-metrics.ts), the backlogs read at scrape time.

  /** Channel events handled by the inbound pipeline, by kind and result. */
  inboundEventsTotal: {
    name: 'switchboard_inbound_events_total',
    type: 'counter',
    help: 'Inbound channel events handled, by kind (message, receipt, identity) and result (stored, duplicate, ignored, failed).',
    labelNames: ['kind', 'result'],
  },
  /** Time from a channel event reaching the pipeline to its commit. */
  inboundCommit: {
    name: 'switchboard_inbound_commit_duration_seconds',
    type: 'histogram',
    help: 'Time from an inbound event reaching the pipeline to its transaction committing, by kind.',
    labelNames: ['kind'],
  },
  /** Outbound send attempts, by result and error class. */
  outboundSendsTotal: {
    name: 'switchboard_outbound_sends_total',
    type: 'counter',
    help: 'Outbound send attempts, by channel, result (sent, retry, failed, unknown) and error class (the channel error code, or none).',
    labelNames: ['channel', 'result', 'error_class'],
  },
  /** How long one channel send took. */
  outboundSend: {
    name: 'switchboard_outbound_send_duration_seconds',
    type: 'histogram',
    help: 'Time one channel send took (the provider call), by channel and result.',
    labelNames: ['channel', 'result'],
  },
  /** Sends whose outcome became unknown (pending a provider status) or stayed unknown past the bound (expired). */
  outboundUnknownOutcomesTotal: {
    name: 'switchboard_outbound_unknown_outcomes_total',
    type: 'counter',
    help: 'Cloud API sends whose outcome is unknown, by stage: pending (waiting for a provider status) or expired (failed at the bound).',
    labelNames: ['stage'],
  },
  /** How long sends were put back because a rate-limit window was full; `_count` is how often. */
  outboundRateLimitWait: {
    name: 'switchboard_outbound_rate_limit_wait_seconds',
    type: 'histogram',
    help: "Time a send was delayed because its session's or contact's rate-limit window was full, by channel; _count is how many times.",
    labelNames: ['channel'],
  },
  /** Outbound jobs that ran out of attempts and stay in the failed set for replay. */
  outboundDeadLettersTotal: {
    name: 'switchboard_outbound_dead_letters_total',
    type: 'counter',
    help: 'Outbound jobs dead-lettered (failed for good, kept for replay).',
    labelNames: [],
  },
  /** Jobs in a tenant queue, by state; read from Redis at scrape time. */
  queueJobs: {
    name: 'switchboard_queue_depth_jobs',
    type: 'gauge',
    help: 'Jobs in a queue by state (waiting, delayed, active, failed), read at scrape time; outbound queues are summed per queue kind.',
    labelNames: ['queue', 'state'],
  },
  /** Age of the oldest waiting job; read from Redis at scrape time. */
  queueOldestJobAge: {
    name: 'switchboard_queue_oldest_job_age_seconds',
    type: 'gauge',
    help: 'Age of the oldest job waiting in a queue (0 when none), read at scrape time.',
    labelNames: ['queue'],
  },
  /** Webhook delivery attempts, by result. */
  webhookDeliveriesTotal: {
    name: 'switchboard_webhook_deliveries_total',
    type: 'counter',
    help: 'Tenant webhook delivery attempts, by result (delivered, retry, failed, skipped).',
    labelNames: ['result'],
  },
  /** How long one webhook POST took. */
  webhookDelivery: {
    name: 'switchboard_webhook_delivery_duration_seconds',
    type: 'histogram',
    help: 'Time one tenant webhook delivery attempt took, by result.',
    labelNames: ['result'],
  },
  /** Outbox rows waiting for their effect; read from Postgres at scrape time. */
  outboxBacklog: {
    name: 'switchboard_outbox_backlog_items',
    type: 'gauge',
    help: 'Outbox rows whose effect has not happened yet, read at scrape time.',
    labelNames: [],
  },
  /** Age of the oldest outbox row; read from Postgres at scrape time. */
  outboxOldestAge: {
    name: 'switchboard_outbox_oldest_age_seconds',
    type: 'gauge',
    help: 'Age of the oldest outbox row (0 when empty), read at scrape time.',
    labelNames: [],
  },

  // The AI assistant (services/worker assistant-replies.ts).

  /** Customer messages the assistant decided on, by outcome and reason. */
  assistantDecisionsTotal: {
    name: 'switchboard_assistant_decisions_total',
    type: 'counter',
    help: 'Customer messages the assistant decided on, by outcome (replied, handed_off, blocked_topic, refused, failed) and reason.',
    labelNames: ['outcome', 'reason'],
  },
  /** Tokens the provider counted, by direction (in: prompt, out: completion) and model. */
  assistantTokensTotal: {
    name: 'switchboard_assistant_tokens_total',
    type: 'counter',
    help: 'Tokens used by assistant provider calls, by direction (in, out) and model.',
    labelNames: ['direction', 'model'],
  },
  /** Estimated cost of the provider calls in US dollars (the assistant's price table). */
  assistantCostTotal: {
    name: 'switchboard_assistant_cost_dollars_total',
    type: 'counter',
    help: 'Estimated cost of assistant provider calls in US dollars, by model (list prices).',
    labelNames: ['model'],
  },
  /** Duration of one provider call. */
  assistantCallDuration: {
    name: 'switchboard_assistant_call_duration_seconds',
    type: 'histogram',
    help: 'Duration of assistant provider calls, by model and outcome.',
    labelNames: ['model', 'outcome'],
  },
} as const satisfies Record<string, MetricDefinition>;

/** Attribute names on spans (and the matching fields in logs). */
export const spanAttributes = {
  /** Tenant id, the WhatsAppTenant's name. */
  tenant: 'switchboard.tenant',
  /** Session name within the tenant. */
  session: 'switchboard.session',
  /** Fencing epoch of the session lease a write or send carries. */
  sessionEpoch: 'switchboard.session.epoch',
  /** Worker pod that owns the session. */
  worker: 'switchboard.worker',
  /** Queue a job came from. */
  queue: 'switchboard.queue',
  /** Queue job id. */
  jobId: 'switchboard.job.id',
  /** Switchboard message id (never the provider's, never the text). */
  messageId: 'switchboard.message.id',
  /** A message status a span applies (sent, delivered, read, failed). */
  messageStatus: 'switchboard.message.status',
} as const;

/** Instrumentation scope name for spans created by Switchboard code. */
export const TRACER_NAME = 'switchboard';

/** Log fields that tie a log line to its trace (the OpenTelemetry log data model's names). */
export const logFields = {
  /** Trace id of the active span, 32 hex characters. */
  traceId: 'trace_id',
  /** Span id of the active span, 16 hex characters. */
  spanId: 'span_id',
  /** The request id from the Ingress (X-Request-Id) or generated by the API, kept across the queue. */
  requestId: 'request_id',
} as const;
