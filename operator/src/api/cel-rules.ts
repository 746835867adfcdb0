import { type CelInput, celEnv, isCelError, parse, plan } from '@bufbuild/cel';
import { z } from 'zod';

/**
 * CEL validation rules written once and enforced twice: the CRD carries them as
 * `x-kubernetes-validations` for the API server, and the zod schema evaluates the very same
 * expression with a CEL interpreter (@bufbuild/cel, RE2 regexes like cel-go), so a manifest
 * checked offline (docs examples, tests) meets exactly the rules `kubectl apply` meets.
 *
 * Rules must stick to standard CEL (size, has, matches, all, exists_one, ternaries): the
 * Kubernetes-only libraries (quantity, url, ip, format) do not exist in the interpreter, and
 * `celRuleProblems` fails the tests when a rule does not evaluate.
 */

/** One `x-kubernetes-validations` entry, as the CRD carries it. */
export interface CelRule {
  /** The CEL expression; `self` is the value of the field the rule sits on. */
  rule: string;
  /** What the API server answers when the rule is false; say what to change. */
  message: string;
  /** JSONPath (from `self`) of the field the error is reported on, e.g. `.external`. */
  fieldPath?: string;
  /** Error type the API server reports; FieldValueInvalid when absent. */
  reason?: 'FieldValueInvalid' | 'FieldValueForbidden' | 'FieldValueRequired' | 'FieldValueDuplicate';
}

/** The metadata key zod's JSON Schema output copies into the CRD schema. */
export const VALIDATIONS_KEY = 'x-kubernetes-validations';

/** A rule that compares with the stored object (`oldSelf`): only the API server can check it. */
export function isTransitionRule(rule: CelRule): boolean {
  return /\boldSelf\b/.test(rule.rule);
}

type Program = (bindings: { self: CelInput }) => unknown;
const env = celEnv();
const programs = new Map<string, Program>();

function program(expression: string): Program {
  let compiled = programs.get(expression);
  if (compiled === undefined) {
    // parse() throws on a syntax error: a broken rule fails loudly the first time it is used.
    compiled = plan(env, parse(expression)) as Program;
    programs.set(expression, compiled);
  }
  return compiled;
}

/**
 * JSON (as parsed from YAML or an API response) to CEL's runtime types: objects become maps and
 * whole numbers become CEL ints. Every number in these schemas is an integer, and the API
 * server types them `int` from the schema, so comparisons behave the same here.
 */
export function toCelValue(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(toCelValue);
  if (typeof value === 'number' && Number.isInteger(value)) return BigInt(value);
  if (value !== null && typeof value === 'object') {
    return new Map(
      Object.entries(value)
        .filter(([, entry]) => entry !== undefined)
        .map(([key, entry]) => [key, toCelValue(entry)]),
    );
  }
  return value;
}

/** Evaluates `rule` with `self` bound to `value`: true, false, or the CEL error's message. */
export function evaluateCelRule(rule: CelRule, value: unknown): boolean | string {
  const result = program(rule.rule)({ self: toCelValue(value) as CelInput });
  if (isCelError(result)) return result.message;
  if (typeof result !== 'boolean') return `rule returned ${typeof result}, not a bool`;
  return result;
}

function zodPath(fieldPath: string | undefined): string[] {
  return fieldPath === undefined ? [] : fieldPath.split('.').filter((part) => part !== '');
}

/**
 * Attaches `rules` to `schema`: as `x-kubernetes-validations` in its JSON Schema, and as a zod
 * check that evaluates each non-transition rule. The issue carries the rule's message and
 * fieldPath, like the API server's error.
 */
export function withCelRules<S extends z.ZodType>(schema: S, rules: readonly CelRule[]): S {
  const checked = schema.superRefine((value, ctx) => {
    for (const rule of rules) {
      if (isTransitionRule(rule)) continue;
      const outcome = evaluateCelRule(rule, value);
      if (outcome === true) continue;
      ctx.addIssue({
        code: 'custom',
        message: outcome === false ? rule.message : `${rule.message} (rule did not evaluate: ${outcome})`,
        path: zodPath(rule.fieldPath),
        input: value,
      });
    }
  });
  const existing = (z.globalRegistry.get(schema)?.[VALIDATIONS_KEY] as CelRule[] | undefined) ?? [];
  return checked.meta({ [VALIDATIONS_KEY]: [...existing, ...rules] }) as S;
}
