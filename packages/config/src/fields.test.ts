import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  boolean,
  describeField,
  duration,
  hostPortList,
  integer,
  list,
  logLevel,
  port,
  secret,
  url,
} from './fields.ts';

function messageOf(schema: z.ZodType, input: string): string {
  const result = schema.safeParse(input);
  if (result.success) throw new Error(`expected ${JSON.stringify(input)} to be rejected`);
  return result.error.issues.map((issue) => issue.message).join('; ');
}

describe('field helpers', () => {
  it('url accepts the allowed schemes only', () => {
    const postgres = url({ protocols: ['postgres', 'postgresql'] });
    expect(postgres.parse('postgres://u:p@db:5432/app')).toBe('postgres://u:p@db:5432/app');
    expect(postgres.parse('postgresql://db/app')).toBe('postgresql://db/app');
    expect(messageOf(postgres, 'mysql://db/app')).toBe(
      'expected a URL starting with postgres:// or postgresql://',
    );
    expect(messageOf(url(), 'not a url')).toBe('expected an absolute URL');
  });

  it('port parses 1..65535 and nothing else', () => {
    expect(port().parse('6379')).toBe(6379);
    expect(port().parse(' 80 ')).toBe(80);
    for (const bad of ['0', '65536', 'http', '-1', '80.5', '']) {
      expect(messageOf(port(), bad)).toBe('expected a port number between 1 and 65535');
    }
  });

  it('integer honours its range', () => {
    expect(integer({ min: 1, max: 50 }).parse('50')).toBe(50);
    expect(integer().parse('-7')).toBe(-7);
    expect(messageOf(integer({ min: 1, max: 50 }), '51')).toBe('expected a whole number between 1 and 50');
    expect(messageOf(integer({ min: 1 }), '1.5')).toBe('expected a whole number of at least 1');
  });

  it('duration returns milliseconds for every unit and for bare numbers', () => {
    const cases: Array<[string, number]> = [
      ['250', 250],
      ['250ms', 250],
      ['30s', 30_000],
      ['1.5s', 1_500],
      ['5m', 300_000],
      ['1h', 3_600_000],
      ['2d', 172_800_000],
    ];
    for (const [input, ms] of cases) expect(duration().parse(input)).toBe(ms);
    expect(messageOf(duration(), '5 minutes')).toMatch(/^expected a duration such as 500ms, 30s/);
    expect(messageOf(duration(), '-1s')).toMatch(/^expected a duration/);
  });

  it('boolean accepts true/false/1/0 in any case and rejects guesses', () => {
    expect(boolean().parse('true')).toBe(true);
    expect(boolean().parse('TRUE')).toBe(true);
    expect(boolean().parse('1')).toBe(true);
    expect(boolean().parse('false')).toBe(false);
    expect(boolean().parse('0')).toBe(false);
    for (const bad of ['yes', 'no', 'on', ''])
      expect(messageOf(boolean(), bad)).toBe('expected true, false, 1 or 0');
  });

  it('list splits on commas, trims, drops empties, and checks each item', () => {
    expect(list().parse(' a, b,,c ')).toEqual(['a', 'b', 'c']);
    expect(list(port()).parse('80,443')).toEqual([80, 443]);
    const result = list(port()).safeParse('80,http');
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.path).toEqual([1]);
  });

  it('hostPortList parses hostnames, IPv4 and bracketed IPv6', () => {
    expect(hostPortList().parse('sentinel-0.redis:26379, 10.0.0.5:26380,[::1]:26381')).toEqual([
      { host: 'sentinel-0.redis', port: 26379 },
      { host: '10.0.0.5', port: 26380 },
      { host: '::1', port: 26381 },
    ]);
    expect(messageOf(hostPortList(), 'sentinel-0')).toBe('expected host:port');
    expect(messageOf(hostPortList(), 'a:70000')).toBe('port must be between 1 and 65535');
  });

  it('logLevel is case-insensitive and lists the levels on error', () => {
    expect(logLevel().parse('DEBUG')).toBe('debug');
    expect(messageOf(logLevel(), 'verbose')).toBe(
      'expected one of fatal, error, warn, info, debug, trace, silent',
    );
  });

  it('secret marks a field for the docs and keeps the wrapped schema', () => {
    const databaseUrl = secret(url({ protocols: ['postgres'] })).describe('db');
    expect(databaseUrl.parse('postgres://db/app')).toBe('postgres://db/app');
    expect(describeField(databaseUrl)).toMatchObject({
      secret: true,
      format: 'URL (postgres://)',
      description: 'db',
    });
    expect(messageOf(secret(), '')).toBe('must not be empty');
    // The original schema is not marked: secret() annotates a clone.
    const plain = url();
    secret(plain);
    expect(describeField(plain).secret).toBe(false);
  });
});

describe('describeField', () => {
  it('sees through optional, default and pipes, whichever order describe was called in', () => {
    expect(describeField(port().default(3000).describe('outer'))).toMatchObject({
      description: 'outer',
      format: 'port',
      optional: true,
      hasDefault: true,
      defaultValue: 3000,
    });
    expect(describeField(port().describe('inner').optional())).toMatchObject({
      description: 'inner',
      optional: true,
      hasDefault: false,
    });
    expect(describeField(z.enum(['a', 'b']).describe('e'))).toMatchObject({
      format: 'one of a, b',
      optional: false,
    });
    expect(describeField(z.string().describe('s')).format).toBe('string');
  });
});
