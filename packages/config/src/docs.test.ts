import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { databaseConfigSchema } from './base.ts';
import { renderConfigMarkdown } from './docs.ts';
import { duration, list, port } from './fields.ts';
import { defineConfig } from './load.ts';

describe('renderConfigMarkdown', () => {
  it('renders one row per variable with required, default, format, secret and description', () => {
    const schema = defineConfig(
      databaseConfigSchema,
      z.object({
        PORT: port().default(3000).describe('Port the API listens on.'),
        SHUTDOWN_GRACE: duration().default(30_000).describe('Time to drain before exit.'),
        TAGS: list().default(['a', 'b']).describe('Extra tags | with a pipe.'),
        MODE: z.enum(['fast', 'safe']).optional().describe('Processing mode.'),
      }),
    );
    expect(renderConfigMarkdown(schema)).toBe(
      [
        '| Variable | Required | Default | Format | Secret | Description |',
        '| --- | --- | --- | --- | --- | --- |',
        '| `DATABASE_URL` | yes |  | URL (postgres://, postgresql://) | yes | Postgres connection URL including credentials; give a secret:// reference. |',
        '| `PORT` | no | `3000` | port |  | Port the API listens on. |',
        '| `SHUTDOWN_GRACE` | no | `30000` | duration (ms, s, m, h, d) |  | Time to drain before exit. |',
        '| `TAGS` | no | `a,b` | comma-separated list |  | Extra tags \\| with a pipe. |',
        '| `MODE` | no |  | one of fast, safe |  | Processing mode. |',
        '',
      ].join('\n'),
    );
  });
});
