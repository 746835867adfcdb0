import type { V1ObjectMeta } from '@kubernetes/client-node';
import type { WhatsAppTenant } from '../api/v1alpha1/index.ts';
import { childMetadata } from './owner-reference.ts';

/** Where every alert's runbook lives: docs/runbooks/<alert>.md, as in the chart's rules. */
export const RUNBOOK_BASE_URL = 'https://switchboard.dev/docs/runbooks/';

/** One alerting rule, in the Prometheus rule file format. */
export interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  labels: { severity: 'warning' | 'critical' };
  annotations: { summary: string; runbook_url: string };
}

/** A Prometheus Operator PrometheusRule (monitoring.coreos.com/v1), the fields used here. */
export interface PrometheusRule {
  apiVersion: 'monitoring.coreos.com/v1';
  kind: 'PrometheusRule';
  metadata: V1ObjectMeta;
  spec: { groups: { name: string; rules: AlertRule[] }[] };
}

// The tenant-scoped alerts of charts/switchboard/rules/switchboard.rules.yaml, each narrowed to
// one tenant's series by `sel` (the `tenant` label the API and workers put on every series).
// Same names, thresholds and runbooks, so an alert reads the same whichever file raised it.
function tenantAlerts(tenant: string, sel: string): { name: string; rules: AlertRule[] }[] {
  const rule = (
    alert: string,
    severity: 'warning' | 'critical',
    expr: string,
    summary: string,
    forDuration?: string,
  ): AlertRule => ({
    alert,
    expr,
    ...(forDuration ? { for: forDuration } : {}),
    labels: { severity },
    annotations: { summary, runbook_url: `${RUNBOOK_BASE_URL}${alert}.md` },
  });
  return [
    {
      name: 'switchboard.tenant.pipelines',
      rules: [
        rule(
          'SwitchboardOutboundSendFailures',
          'warning',
          `sum by (tenant) (rate(switchboard_outbound_sends_total{${sel},result="failed"}[10m]))\n  / sum by (tenant) (rate(switchboard_outbound_sends_total{${sel}}[10m])) > 0.05`,
          `More than 5% of tenant ${tenant}'s sends fail for good.`,
          '10m',
        ),
        rule(
          'SwitchboardSendOutcomeUnknown',
          'warning',
          `sum by (tenant) (increase(switchboard_outbound_unknown_outcomes_total{${sel},stage="pending"}[15m])) > 0`,
          `Tenant ${tenant} has Cloud API sends whose outcome is unknown (a worker died mid-send).`,
        ),
        rule(
          'SwitchboardSendOutcomeExpired',
          'critical',
          `sum by (tenant) (increase(switchboard_outbound_unknown_outcomes_total{${sel},stage="expired"}[1h])) > 0`,
          `Tenant ${tenant} failed sends whose outcome stayed unknown; customers may have them.`,
        ),
        rule(
          'SwitchboardOutboundDeadLetters',
          'warning',
          `sum by (tenant) (increase(switchboard_outbound_dead_letters_total{${sel}}[30m])) > 0`,
          `Tenant ${tenant} dead-lettered outbound messages in the last 30 minutes.`,
        ),
        rule(
          'SwitchboardQueueBacklog',
          'warning',
          `max by (tenant, queue) (switchboard_queue_oldest_job_age_seconds{${sel}}) > 300`,
          `The oldest job in one of tenant ${tenant}'s queues ({{ $labels.queue }}) has waited over 5 minutes.`,
          '10m',
        ),
        rule(
          'SwitchboardOutboxBacklog',
          'warning',
          `max by (tenant) (switchboard_outbox_oldest_age_seconds{${sel}}) > 120`,
          `Tenant ${tenant}'s outbox holds effects older than 2 minutes (realtime events, webhooks, media).`,
          '10m',
        ),
        rule(
          'SwitchboardInboundFailures',
          'critical',
          `sum by (tenant) (rate(switchboard_inbound_events_total{${sel},result="failed"}[10m])) > 0`,
          `Tenant ${tenant}'s workers fail to store inbound events.`,
          '10m',
        ),
        rule(
          'SwitchboardWebhookDeliveriesFailing',
          'warning',
          `sum by (tenant) (increase(switchboard_webhook_deliveries_total{${sel},result="failed"}[30m])) > 0`,
          `Webhook deliveries of tenant ${tenant} failed after their last attempt.`,
        ),
        rule(
          'SwitchboardOutboundRateLimited',
          'warning',
          `sum by (tenant) (rate(switchboard_outbound_rate_limit_wait_seconds_count{${sel}}[15m]))\n  > 0.5 * sum by (tenant) (rate(switchboard_outbound_sends_total{${sel}}[15m]))`,
          `Tenant ${tenant}'s sends keep waiting for their rate limits (more waits than half its send attempts).`,
          '15m',
        ),
      ],
    },
    {
      name: 'switchboard.tenant.api',
      rules: [
        rule(
          'SwitchboardApiErrors',
          'critical',
          `sum by (tenant) (rate(switchboard_api_http_request_duration_seconds_count{${sel},status_code=~"5.."}[5m]))\n  / sum by (tenant) (rate(switchboard_api_http_request_duration_seconds_count{${sel}}[5m])) > 0.02`,
          `More than 2% of tenant ${tenant}'s API requests answer 5xx.`,
          '5m',
        ),
      ],
    },
    {
      name: 'switchboard.tenant.sessions',
      rules: [
        rule(
          'SwitchboardSessionLeasesLost',
          'warning',
          `sum by (tenant) (increase(switchboard_sessions_lost_leases_total{${sel}}[15m])) > 0`,
          `Workers of tenant ${tenant} lost session leases (taken over or renewal missed).`,
        ),
        rule(
          'SwitchboardSessionReconnectStorm',
          'warning',
          `sum by (tenant) (increase(switchboard_sessions_reconnects_total{${sel},reason!~"restart-required|pairing-renewed"}[10m]))\n  > 3 * clamp_min(sum by (tenant) (switchboard_sessions_owned_sessions{${sel}}), 1)`,
          `Sessions of tenant ${tenant} reconnect more than 3 times each per 10 minutes.`,
          '10m',
        ),
        rule(
          'SwitchboardSessionsDisconnected',
          'warning',
          `sum by (tenant) (switchboard_sessions_state_sessions{${sel},state="disconnected"}) > 0`,
          `Tenant ${tenant} has held sessions disconnected for 15 minutes.`,
          '15m',
        ),
      ],
    },
  ];
}

/**
 * The tenant's own alerts as a PrometheusRule in its namespace, every expression filtered to
 * `tenant="<name>"`; undefined when spec.observability.prometheusRule is false. The controller
 * applies it only where the cluster serves the PrometheusRule CRD (API discovery), since applying
 * it elsewhere fails. The tenant name is a DNS-1123 name, so it needs no escaping in PromQL.
 */
export function buildPrometheusRule(tenant: WhatsAppTenant): PrometheusRule | undefined {
  if (!tenant.spec.observability.prometheusRule) return undefined;
  const name = tenant.metadata.name;
  return {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PrometheusRule',
    metadata: childMetadata(tenant, name, 'config'),
    spec: { groups: tenantAlerts(name, `tenant="${name}"`) },
  };
}
