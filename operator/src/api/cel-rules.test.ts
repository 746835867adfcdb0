import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { evaluateCelRule, isTransitionRule, toCelValue, VALIDATIONS_KEY, withCelRules } from './cel-rules.ts';

describe('evaluateCelRule', () => {
  it('evaluates standard CEL over JSON values', () => {
    const rule = { rule: "self.mode != 'external' || has(self.external)", message: 'm' };
    expect(evaluateCelRule(rule, { mode: 'external' })).toBe(false);
    expect(evaluateCelRule(rule, { mode: 'external', external: { name: 'x' } })).toBe(true);
    expect(evaluateCelRule(rule, { mode: 'sentinel' })).toBe(true);
  });

  it('compares JSON whole numbers as CEL ints, like the API server', () => {
    const rule = { rule: 'self.min <= self.max && self.max <= 100', message: 'm' };
    expect(evaluateCelRule(rule, { min: 2, max: 10 })).toBe(true);
    expect(evaluateCelRule(rule, { min: 11, max: 10 })).toBe(false);
  });

  it('uses RE2 for matches()', () => {
    const rule = { rule: "self.matches('^[a-z]+$')", message: 'm' };
    expect(evaluateCelRule(rule, 'acme')).toBe(true);
    expect(evaluateCelRule(rule, 'Acme')).toBe(false);
  });

  it('reports an evaluation error instead of passing', () => {
    const outcome = evaluateCelRule({ rule: 'self.missing == 1', message: 'm' }, {});
    expect(typeof outcome).toBe('string');
  });
});

describe('toCelValue', () => {
  it('turns objects into maps and whole numbers into ints, dropping undefined', () => {
    expect(toCelValue({ a: 1, b: [2.5, 'x'], c: undefined })).toEqual(
      new Map<string, unknown>([
        ['a', 1n],
        ['b', [2.5, 'x']],
      ]),
    );
  });
});

describe('withCelRules', () => {
  const schema = withCelRules(z.object({ min: z.int(), max: z.int(), mode: z.string() }), [
    { rule: 'self.min <= self.max', message: 'min must not exceed max', fieldPath: '.min' },
    { rule: 'self.mode == oldSelf.mode', message: 'mode is immutable' },
  ]);

  it('puts the rules in the JSON Schema', () => {
    const json = z.toJSONSchema(schema) as Record<string, unknown>;
    expect(json[VALIDATIONS_KEY]).toEqual([
      { rule: 'self.min <= self.max', message: 'min must not exceed max', fieldPath: '.min' },
      { rule: 'self.mode == oldSelf.mode', message: 'mode is immutable' },
    ]);
  });

  it('fails parsing with the rule message at the fieldPath, and skips transition rules', () => {
    const result = schema.safeParse({ min: 3, max: 2, mode: 'a' });
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((issue) => [issue.path, issue.message])).toEqual([
      [['min'], 'min must not exceed max'],
    ]);
    expect(schema.safeParse({ min: 1, max: 2, mode: 'a' }).success).toBe(true);
  });

  it('adds to the rules already attached rather than replacing them', () => {
    const twice = withCelRules(schema, [{ rule: 'self.max < 100', message: 'max too big' }]);
    const rules = z.globalRegistry.get(twice)?.[VALIDATIONS_KEY] as unknown[];
    expect(rules).toHaveLength(3);
    expect(twice.safeParse({ min: 1, max: 200, mode: 'a' }).error?.issues[0]?.message).toBe('max too big');
  });

  it('knows transition rules', () => {
    expect(isTransitionRule({ rule: 'self == oldSelf', message: '' })).toBe(true);
    expect(isTransitionRule({ rule: 'self.oldSelfish == 1', message: '' })).toBe(false);
  });
});
