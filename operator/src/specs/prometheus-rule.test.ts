import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { tenantFixture } from '../testing/fixtures.ts';
import { buildPrometheusRule, RUNBOOK_BASE_URL } from './prometheus-rule.ts';

const execFileAsync = promisify(execFile);
const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

describe('buildPrometheusRule', () => {
  const tenant = tenantFixture({});
  const name = tenant.metadata.name;
  const rule = buildPrometheusRule(tenant);
  const alerts = rule?.spec.groups.flatMap((group) => group.rules) ?? [];

  it("holds the chart's tenant-scoped alerts, each filtered to the tenant and linking its runbook", async () => {
    expect(rule?.metadata.namespace).toBe(tenant.metadata.namespace);
    expect(rule?.metadata.ownerReferences?.[0]?.name).toBe(name);
    // The chart's alerts grouped by tenant are exactly the ones the operator creates per tenant.
    const chart = await readFile(join(REPO_ROOT, 'charts/switchboard/rules/switchboard.rules.yaml'), 'utf8');
    const chartTenantAlerts = chart
      .split('- alert: ')
      .slice(1)
      .filter((block) => /by \(tenant/.test(block))
      .map((block) => block.split('\n')[0]!.trim());
    expect(alerts.map((a) => a.alert).sort()).toEqual(chartTenantAlerts.sort());
    for (const alert of alerts) {
      // Every selector of the expression names the tenant.
      const selectors = alert.expr.match(/switchboard_[a-z_]+(\{[^}]*\})?/g) ?? [];
      expect(selectors.length, alert.alert).toBeGreaterThan(0);
      for (const selector of selectors) expect(selector, alert.alert).toContain(`{tenant="${name}"`);
      expect(alert.annotations.runbook_url).toBe(`${RUNBOOK_BASE_URL}${alert.alert}.md`);
      const runbook = await readFile(join(REPO_ROOT, 'docs/runbooks', `${alert.alert}.md`), 'utf8');
      for (const section of ['## Symptom', '## Impact', '## Diagnosis', '## Mitigation'])
        expect(runbook, `${alert.alert} ${section}`).toContain(section);
    }
  });

  it('passes promtool, and fires for its own tenant only', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'switchboard-tenant-rules-'));
    try {
      // JSON is YAML: promtool reads the groups exactly as the PrometheusRule carries them.
      const rulesFile = join(dir, 'tenant.rules.yaml');
      await writeFile(rulesFile, JSON.stringify({ groups: rule?.spec.groups }));
      const { stdout } = await execFileAsync('promtool', ['check', 'rules', rulesFile]);
      expect(stdout).toContain(`SUCCESS: ${alerts.length} rules found`);
      const testsFile = join(dir, 'tenant.rules.test.yaml');
      // Both tenants dead-letter; only this tenant's rule answers, for this tenant.
      await writeFile(
        testsFile,
        JSON.stringify({
          rule_files: [rulesFile],
          evaluation_interval: '1m',
          tests: [
            {
              interval: '1m',
              input_series: [
                { series: `switchboard_outbound_dead_letters_total{tenant="${name}"}`, values: '0+1x30' },
                { series: 'switchboard_outbound_dead_letters_total{tenant="other"}', values: '0+1x30' },
              ],
              alert_rule_test: [
                {
                  eval_time: '20m',
                  alertname: 'SwitchboardOutboundDeadLetters',
                  exp_alerts: [
                    {
                      exp_labels: { severity: 'warning', tenant: name },
                      exp_annotations: {
                        summary: `Tenant ${name} dead-lettered outbound messages in the last 30 minutes.`,
                        runbook_url: `${RUNBOOK_BASE_URL}SwitchboardOutboundDeadLetters.md`,
                      },
                    },
                  ],
                },
              ],
            },
          ],
        }),
      );
      const unit = await execFileAsync('promtool', ['test', 'rules', testsFile]);
      expect(unit.stdout).toContain('SUCCESS');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('is not built when the tenant turns it off', () => {
    expect(buildPrometheusRule(tenantFixture({ observability: { prometheusRule: false } }))).toBeUndefined();
  });
});
