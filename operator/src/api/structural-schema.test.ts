import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { structuralSchemaProblems, toStructuralSchema } from './structural-schema.ts';

describe('toStructuralSchema', () => {
  it('writes quantities the way controller-gen writes resource.Quantity', () => {
    const schema = toStructuralSchema(
      z.object({
        size: z
          .union([z.string().regex(/^[0-9]+Gi$/), z.number().int()])
          .meta({ 'x-kubernetes-int-or-string': true, description: 'size' }),
      }),
    );
    expect(schema.properties?.size).toEqual({
      description: 'size',
      pattern: '^[0-9]+Gi$',
      anyOf: [{ type: 'integer' }, { type: 'string' }],
      'x-kubernetes-int-or-string': true,
    });
  });

  it('drops what a CRD may not carry and states integer formats', () => {
    const schema = toStructuralSchema(
      z.strictObject({
        count: z.int().min(0).describe('count'),
        small: z.int32().describe('small'),
        when: z.iso.datetime().describe('when'),
      }),
    );
    expect(schema.additionalProperties).toBeUndefined();
    expect(schema.properties?.count).toEqual({
      description: 'count',
      type: 'integer',
      format: 'int64',
      minimum: 0,
    });
    expect(schema.properties?.small).toEqual({ description: 'small', type: 'integer', format: 'int32' });
    expect(schema.properties?.when).toEqual({ description: 'when', type: 'string', format: 'date-time' });
  });

  it('spells out an object default with its fields’ defaults', () => {
    const schema = toStructuralSchema(
      z.object({
        outer: z
          .object({
            mode: z.enum(['a', 'b']).default('a').describe('mode'),
            inner: z
              .object({ n: z.int().default(3).describe('n') })
              .prefault({})
              .describe('inner'),
            optional: z.string().optional().describe('optional'),
          })
          .prefault({})
          .describe('outer'),
      }),
    );
    expect(schema.properties?.outer?.default).toEqual({ mode: 'a', inner: { n: 3 } });
  });
});

describe('structuralSchemaProblems', () => {
  it('accepts a described, typed schema', () => {
    expect(
      structuralSchemaProblems({
        type: 'object',
        properties: { metadata: { type: 'object' }, a: { description: 'a', type: 'string' } },
      }),
    ).toEqual([]);
  });

  it('finds every kind of problem it checks', () => {
    const problems = structuralSchemaProblems({
      type: 'object',
      properties: {
        untyped: { description: 'no type' },
        undescribed: { type: 'string' },
        union: { description: 'union', anyOf: [{ type: 'string' }, { type: 'boolean' }] },
        ref: { description: 'ref', type: 'object', $ref: '#/x' },
        lookahead: { description: 'lookahead', type: 'string', pattern: '^(?!x)' },
        list: {
          description: 'list',
          type: 'array',
          items: { type: 'object', properties: { k: { description: 'k', type: 'string' } } },
          'x-kubernetes-list-type': 'map',
          'x-kubernetes-list-map-keys': ['k'],
        },
        both: {
          description: 'both',
          type: 'object',
          properties: { a: { description: 'a', type: 'string' } },
          additionalProperties: { type: 'string' },
        },
      },
      required: ['missing'],
    });
    expect(problems).toEqual([
      '.untyped: has no type',
      '.undescribed: has no description (kubectl explain shows it)',
      '.union: anyOf is only allowed for int-or-string',
      '.union: has no type',
      '.ref: $ref is not allowed in a structural schema',
      '.lookahead: pattern uses lookaround or backreferences, which RE2 rejects',
      '.list: list map key k must be required or defaulted',
      '.both: properties and additionalProperties are mutually exclusive',
      '<root>: requires missing, which is not a property',
    ]);
  });
});
