import type { z } from 'zod';
import { describeField } from './fields.ts';
import type { ConfigSchema } from './load.ts';

function cell(text: string): string {
  return text.replaceAll('|', '\\|').replaceAll('\n', ' ');
}

function showDefault(value: unknown): string {
  if (Array.isArray(value)) return value.map((item) => showDefault(item)).join(',');
  if (typeof value === 'object' && value !== null) return JSON.stringify(value);
  return String(value);
}

/**
 * Renders a markdown table of a schema's variables (name, required, default, format,
 * secret, description) for a service's docs page. Durations' defaults show in
 * milliseconds, as the service sees them.
 */
export function renderConfigMarkdown(schema: ConfigSchema): string {
  const rows = [
    '| Variable | Required | Default | Format | Secret | Description |',
    '| --- | --- | --- | --- | --- | --- |',
  ];
  for (const [name, field] of Object.entries(schema.shape)) {
    const info = describeField(field as z.ZodType);
    rows.push(
      `| \`${name}\` | ${info.optional ? 'no' : 'yes'} | ${info.hasDefault ? `\`${cell(showDefault(info.defaultValue))}\`` : ''} | ${cell(info.format)} | ${info.secret ? 'yes' : ''} | ${cell(info.description ?? '')} |`,
    );
  }
  return `${rows.join('\n')}\n`;
}
