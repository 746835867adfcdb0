import { z } from 'zod';
import { VALIDATIONS_KEY } from './cel-rules.ts';

/**
 * zod schema -> Kubernetes structural schema (the `openAPIV3Schema` of a CRD version).
 *
 * zod 4's `toJSONSchema` does most of the work; what it emits that a CRD may not carry is
 * rewritten here, and whatever is left that a structural schema forbids is reported by
 * `structuralSchemaProblems` (the generator refuses to write a schema that has any), so a
 * new zod construct fails at `make generate` rather than at `kubectl apply`.
 */

/** One node of a CRD's OpenAPI v3 schema, with the keys this generator emits. */
export interface JsonSchemaProps {
  description?: string;
  type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';
  format?: string;
  enum?: unknown[];
  default?: unknown;
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  minItems?: number;
  maxItems?: number;
  maxProperties?: number;
  properties?: Record<string, JsonSchemaProps>;
  required?: string[];
  items?: JsonSchemaProps;
  additionalProperties?: JsonSchemaProps | boolean;
  anyOf?: JsonSchemaProps[];
  'x-kubernetes-int-or-string'?: boolean;
  'x-kubernetes-list-type'?: 'atomic' | 'set' | 'map';
  'x-kubernetes-list-map-keys'?: string[];
  'x-kubernetes-map-type'?: 'atomic' | 'granular';
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-validations'?: {
    rule: string;
    message: string;
    fieldPath?: string;
    reason?: string;
  }[];
  [key: string]: unknown;
}

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

// Keys in the order a reader of the YAML wants them: what the field is, then its constraints,
// then its children, then the Kubernetes extensions.
const KEY_ORDER = [
  'description',
  'type',
  'format',
  'enum',
  'default',
  'pattern',
  'minLength',
  'maxLength',
  'minimum',
  'maximum',
  'minItems',
  'maxItems',
  'maxProperties',
  'anyOf',
  'properties',
  'required',
  'additionalProperties',
  'items',
  'x-kubernetes-int-or-string',
  'x-kubernetes-list-type',
  'x-kubernetes-list-map-keys',
  'x-kubernetes-map-type',
  'x-kubernetes-preserve-unknown-fields',
  VALIDATIONS_KEY,
];

function ordered(node: Record<string, unknown>): JsonSchemaProps {
  const keys = Object.keys(node).sort((a, b) => {
    const ia = KEY_ORDER.indexOf(a);
    const ib = KEY_ORDER.indexOf(b);
    return (ia === -1 ? KEY_ORDER.length : ia) - (ib === -1 ? KEY_ORDER.length : ib) || a.localeCompare(b);
  });
  return Object.fromEntries(keys.map((key) => [key, node[key]])) as JsonSchemaProps;
}

function normalise(input: Record<string, unknown>): JsonSchemaProps {
  const node: Record<string, unknown> = { ...input };
  delete node.$schema;

  if (node['x-kubernetes-int-or-string'] === true) {
    // A quantity: zod says anyOf [string with pattern, number]; Kubernetes wants the form
    // controller-gen writes for resource.Quantity: anyOf integer|string, pattern beside it.
    const branches = (node.anyOf as Record<string, unknown>[] | undefined) ?? [];
    const pattern = branches.find((branch) => typeof branch.pattern === 'string')?.pattern;
    node.anyOf = [{ type: 'integer' }, { type: 'string' }];
    if (pattern !== undefined) node.pattern = pattern;
    delete node.type;
    return ordered(node);
  }

  // Structural schemas may not combine properties with additionalProperties; unknown fields are
  // pruned by the API server (and rejected by kubectl's strict field validation) instead.
  if (node.properties !== undefined && node.additionalProperties === false) delete node.additionalProperties;

  if (node.type === 'integer') {
    // zod states its int's range; say int32/int64 the way Kubernetes APIs do instead.
    if (node.maximum === INT32_MAX || node.minimum === INT32_MIN) node.format = 'int32';
    else if (node.maximum === Number.MAX_SAFE_INTEGER || node.minimum === Number.MIN_SAFE_INTEGER)
      node.format = 'int64';
    if (node.maximum === INT32_MAX || node.maximum === Number.MAX_SAFE_INTEGER) delete node.maximum;
    if (node.minimum === INT32_MIN || node.minimum === Number.MIN_SAFE_INTEGER) delete node.minimum;
  }

  // zod spells date-time out as a regex; the API server checks `format: date-time` itself.
  if (node.format === 'date-time') delete node.pattern;

  if (node.properties !== undefined) {
    node.properties = Object.fromEntries(
      Object.entries(node.properties as Record<string, Record<string, unknown>>).map(([key, value]) => [
        key,
        normalise(value),
      ]),
    );
  }
  if (node.items !== undefined) node.items = normalise(node.items as Record<string, unknown>);
  if (isPlainObject(node.default)) node.default = withNestedDefaults(node.default, node as JsonSchemaProps);
  if (typeof node.additionalProperties === 'object' && node.additionalProperties !== null) {
    node.additionalProperties = normalise(node.additionalProperties as Record<string, unknown>);
    // A map's keys are strings by definition; zod's propertyNames adds nothing a CRD can use.
    delete node.propertyNames;
  }
  return ordered(node);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * `default: {}` spelled out with the defaults of its fields. Same meaning (the API server
 * defaults the fields of a defaulted object), but the API server checks a default against the
 * CEL rules as written, and `{}` fails every rule that reads a defaulted field.
 */
function withNestedDefaults(
  value: Record<string, unknown>,
  schema: JsonSchemaProps,
): Record<string, unknown> {
  const filled: Record<string, unknown> = { ...value };
  for (const [key, child] of Object.entries(schema.properties ?? {})) {
    if (filled[key] === undefined && child.default !== undefined)
      filled[key] = structuredClone(child.default);
    const current = filled[key];
    if (isPlainObject(current)) filled[key] = withNestedDefaults(current, child);
  }
  return filled;
}

/**
 * Converts a zod schema to a structural schema. `io: 'input'` because a CRD describes what a
 * user may write: fields with defaults are optional there and carry `default`.
 */
export function toStructuralSchema(schema: z.ZodType): JsonSchemaProps {
  const json = z.toJSONSchema(schema, { target: 'openapi-3.0', io: 'input', unrepresentable: 'throw' });
  return normalise(json as Record<string, unknown>);
}

const FORBIDDEN_KEYS = ['$ref', '$defs', 'definitions', 'oneOf', 'allOf', 'not', 'nullable', 'const'];
// Regex syntax RE2 (the API server's engine) rejects; JavaScript accepts it, so only a test
// would notice before a user does.
const NON_RE2 = /\(\?[=!<]|\\[1-9]/;

/**
 * What keeps `schema` from being a structural schema the API server accepts, and this
 * project's own rules: every property described, patterns RE2-compatible. Empty when fine.
 */
export function structuralSchemaProblems(schema: JsonSchemaProps, path = ''): string[] {
  const problems: string[] = [];
  const at = path === '' ? '<root>' : path;
  for (const key of FORBIDDEN_KEYS) {
    if (key in schema) problems.push(`${at}: ${key} is not allowed in a structural schema`);
  }
  if (schema['x-kubernetes-int-or-string'] === true) {
    const anyOf = schema.anyOf ?? [];
    const ok =
      schema.type === undefined &&
      anyOf.length === 2 &&
      anyOf[0]?.type === 'integer' &&
      anyOf[1]?.type === 'string';
    if (!ok) problems.push(`${at}: int-or-string must be anyOf [integer, string] without a type`);
  } else {
    if (schema.anyOf !== undefined) problems.push(`${at}: anyOf is only allowed for int-or-string`);
    if (schema.type === undefined && schema['x-kubernetes-preserve-unknown-fields'] !== true) {
      problems.push(`${at}: has no type`);
    }
  }
  if (schema.pattern !== undefined && NON_RE2.test(schema.pattern)) {
    problems.push(`${at}: pattern uses lookaround or backreferences, which RE2 rejects`);
  }
  if (schema.properties !== undefined) {
    if (schema.type !== 'object') problems.push(`${at}: has properties but is not type object`);
    if (schema.additionalProperties !== undefined) {
      problems.push(`${at}: properties and additionalProperties are mutually exclusive`);
    }
    for (const [key, child] of Object.entries(schema.properties)) {
      const childPath = `${path}.${key}`;
      // The root's metadata is the one property a CRD may not describe (the API server says so).
      const exempt = childPath === '.metadata';
      if (!exempt && (typeof child.description !== 'string' || child.description.trim() === '')) {
        problems.push(`${childPath}: has no description (kubectl explain shows it)`);
      }
      problems.push(...structuralSchemaProblems(child, childPath));
    }
    for (const key of schema.required ?? []) {
      if (!(key in schema.properties)) problems.push(`${at}: requires ${key}, which is not a property`);
    }
  }
  if (schema.type === 'array') {
    if (schema.items === undefined) problems.push(`${at}: array without items`);
    else problems.push(...structuralSchemaProblems(schema.items, `${path}[]`));
    const listType = schema['x-kubernetes-list-type'];
    if (listType === 'map') {
      const keys = schema['x-kubernetes-list-map-keys'] ?? [];
      if (keys.length === 0) problems.push(`${at}: list-type map needs x-kubernetes-list-map-keys`);
      for (const key of keys) {
        const item = schema.items;
        const required = item?.required?.includes(key) || item?.properties?.[key]?.default !== undefined;
        if (!required) problems.push(`${at}: list map key ${key} must be required or defaulted`);
      }
    }
  }
  if (typeof schema.additionalProperties === 'object') {
    problems.push(...structuralSchemaProblems(schema.additionalProperties, `${path}{}`));
  }
  return problems;
}
