// Compares schema.prisma with a migrated database. `prisma migrate diff` would do this
// but needs Prisma's native schema engine, which cannot be downloaded here; instead
// both sides are reduced to the same plain shape and compared:
//   - schema.prisma through the datamodel of Prisma's wasm schema parser (offline);
//   - the database through pg_catalog.
// Used by the tests only (its parser is a devDependency).
import { readFile } from 'node:fs/promises';
import { get_datamodel } from '@prisma/prisma-schema-wasm';
import type pg from 'pg';

/** One table: columns, primary key, indexes and foreign keys in canonical text form. */
export interface TableShape {
  /** Column name -> "type [NOT NULL] [DEFAULT expr]", e.g. "uuid NOT NULL DEFAULT gen_random_uuid()". */
  columns: Record<string, string>;
  /** Primary key columns, in order. */
  primaryKey: string[];
  /** e.g. "UNIQUE (tenant_id, email)", "INDEX (tenant_id, last_message_at DESC, id DESC)". */
  indexes: string[];
  /** e.g. "(tenant_id, user_id) -> users (tenant_id, id) ON DELETE CASCADE". */
  foreignKeys: string[];
}

/** A whole schema: tables and enum types (name -> values in order). */
export interface SchemaShape {
  tables: Record<string, TableShape>;
  enums: Record<string, string[]>;
}

export const schemaPrismaPath = new URL('../prisma/schema.prisma', import.meta.url);

// --- schema.prisma ------------------------------------------------------------------

interface DmmfField {
  name: string;
  dbName?: string | null;
  kind: 'scalar' | 'enum' | 'object' | 'unsupported';
  isList: boolean;
  isRequired: boolean;
  type: string;
  nativeType?: [string, string[]] | null;
  hasDefaultValue: boolean;
  default?: unknown;
  relationFromFields?: string[];
  relationToFields?: string[];
  relationOnDelete?: string;
}

interface DmmfModel {
  name: string;
  dbName: string | null;
  fields: DmmfField[];
}

interface DmmfEnum {
  name: string;
  dbName?: string | null;
  values: { name: string; dbName: string | null }[];
}

interface DmmfIndex {
  model: string;
  type: 'id' | 'normal' | 'unique' | 'fulltext';
  fields: { name: string; sortOrder?: 'asc' | 'desc' }[];
}

interface Datamodel {
  models: DmmfModel[];
  enums: DmmfEnum[];
  indexes: DmmfIndex[];
}

/** Reads schema.prisma (this package's, unless given) into a SchemaShape. */
export async function prismaSchemaShape(schemaText?: string): Promise<SchemaShape> {
  const text = schemaText ?? (await readFile(schemaPrismaPath, 'utf8'));
  const datamodel = JSON.parse(get_datamodel(JSON.stringify({ prismaSchema: text }))) as Datamodel;
  return shapeFromDatamodel(datamodel);
}

// Prisma's defaults that run in the client, not in the database.
const clientSideDefaults = new Set(['uuid', 'cuid', 'nanoid', 'ulid']);

function shapeFromDatamodel(dm: Datamodel): SchemaShape {
  const enums: Record<string, string[]> = {};
  const enumDbName = new Map<string, string>();
  const enumValueDbName = new Map<string, Map<string, string>>();
  for (const e of dm.enums) {
    const name = e.dbName ?? e.name;
    enumDbName.set(e.name, name);
    enums[name] = e.values.map((v) => v.dbName ?? v.name);
    enumValueDbName.set(e.name, new Map(e.values.map((v) => [v.name, v.dbName ?? v.name])));
  }
  const tableName = new Map(dm.models.map((m) => [m.name, m.dbName ?? m.name]));
  const column = (model: DmmfModel, fieldName: string): string => {
    const field = model.fields.find((f) => f.name === fieldName);
    if (!field) throw new Error(`${model.name}.${fieldName}: no such field`);
    return field.dbName ?? field.name;
  };

  const tables: Record<string, TableShape> = {};
  for (const model of dm.models) {
    const table: TableShape = { columns: {}, primaryKey: [], indexes: [], foreignKeys: [] };
    for (const field of model.fields) {
      if (field.kind === 'object') {
        if (field.relationFromFields && field.relationFromFields.length > 0) {
          const target = dm.models.find((m) => m.name === field.type);
          if (!target) throw new Error(`${model.name}.${field.name}: unknown model ${field.type}`);
          // Prisma's defaults when onDelete is not written: Restrict for a required
          // relation, SetNull for an optional one.
          const onDelete = field.relationOnDelete ?? (field.isRequired ? 'Restrict' : 'SetNull');
          table.foreignKeys.push(
            foreignKey(
              field.relationFromFields.map((f) => column(model, f)),
              tableName.get(target.name)!,
              (field.relationToFields ?? []).map((f) => column(target, f)),
              onDelete.replace(/([a-z])([A-Z])/g, '$1 $2').toUpperCase(),
            ),
          );
        }
        continue;
      }
      const type =
        field.kind === 'enum'
          ? enumDbName.get(field.type)!
          : scalarType(field.type, field.nativeType ?? null, `${model.name}.${field.name}`);
      const def = prismaDefault(field, enumValueDbName.get(field.type));
      // Lists are NOT NULL by this project's convention (Prisma never writes null to one).
      const notNull = field.isRequired || field.isList;
      table.columns[field.dbName ?? field.name] = columnText(field.isList ? `${type}[]` : type, notNull, def);
    }
    for (const index of dm.indexes.filter((i) => i.model === model.name)) {
      const columns = index.fields.map(
        (f) => `${column(model, f.name)}${f.sortOrder === 'desc' ? ' DESC' : ''}`,
      );
      if (index.type === 'id') table.primaryKey = columns;
      else table.indexes.push(`${index.type === 'unique' ? 'UNIQUE' : 'INDEX'} (${columns.join(', ')})`);
    }
    tables[tableName.get(model.name)!] = normalise(table);
  }
  return { tables, enums };
}

function scalarType(type: string, native: [string, string[]] | null, where: string): string {
  const [nativeName, args = []] = native ?? [];
  switch (type) {
    case 'String':
      if (nativeName === 'Uuid') return 'uuid';
      if (nativeName === undefined || nativeName === 'Text') return 'text';
      break;
    case 'DateTime':
      // Prisma's DateTime without a native type is timestamp(3); this project always
      // says @db.Timestamptz(6).
      if (nativeName === 'Timestamptz') return `timestamptz(${args[0] ?? 6})`;
      if (nativeName === undefined) return 'timestamp(3)';
      break;
    case 'Int':
      if (nativeName === undefined || nativeName === 'Integer') return 'integer';
      break;
    case 'BigInt':
      if (nativeName === undefined) return 'bigint';
      break;
    case 'Boolean':
      if (nativeName === undefined) return 'boolean';
      break;
    case 'Json':
      if (nativeName === undefined || nativeName === 'JsonB') return 'jsonb';
      break;
    case 'Bytes':
      if (nativeName === undefined) return 'bytea';
      break;
    case 'Float':
      if (nativeName === undefined) return 'double precision';
      break;
  }
  throw new Error(`${where}: add ${type}${nativeName ? ` @db.${nativeName}` : ''} to schema-drift.ts`);
}

function prismaDefault(field: DmmfField, enumValues: Map<string, string> | undefined): string | undefined {
  if (!field.hasDefaultValue) return undefined;
  const value = field.default;
  if (Array.isArray(value)) return `{${value.join(',')}}`;
  if (value !== null && typeof value === 'object') {
    const { name, args } = value as { name: string; args: unknown[] };
    if (name === 'dbgenerated') return String(args[0]);
    if (name === 'now') return 'now()';
    if (clientSideDefaults.has(name)) return undefined;
    return `${name}(${args.join(', ')})`;
  }
  if (enumValues && typeof value === 'string') return enumValues.get(value) ?? value;
  return String(value);
}

// --- the database ---------------------------------------------------------------------

const deleteActions: Record<string, string> = {
  a: 'NO ACTION',
  r: 'RESTRICT',
  c: 'CASCADE',
  n: 'SET NULL',
  d: 'SET DEFAULT',
};

/** Reads the tables and enum types of one schema ("public") of the connected database into a SchemaShape. */
export async function databaseSchemaShape(client: pg.ClientBase, schema = 'public'): Promise<SchemaShape> {
  const tables: Record<string, TableShape> = {};
  const table = (name: string): TableShape => {
    tables[name] ??= { columns: {}, primaryKey: [], indexes: [], foreignKeys: [] };
    return tables[name];
  };

  const tableRows = await client.query<{ table: string }>(
    `SELECT c.relname AS table FROM pg_class c
       WHERE c.relnamespace = $1::regnamespace AND c.relkind IN ('r', 'p')`,
    [schema],
  );
  for (const { table: name } of tableRows.rows) table(name);

  const columns = await client.query<{
    table: string;
    column: string;
    type: string;
    typtype: string;
    elemtyptype: string | null;
    notnull: boolean;
    def: string | null;
  }>(
    `SELECT c.relname AS table, a.attname AS column,
            format_type(a.atttypid, a.atttypmod) AS type,
            t.typtype, et.typtype AS elemtyptype,
            a.attnotnull AS notnull, pg_get_expr(d.adbin, d.adrelid) AS def
       FROM pg_attribute a
       JOIN pg_class c ON c.oid = a.attrelid
       JOIN pg_type t ON t.oid = a.atttypid
       LEFT JOIN pg_type et ON et.oid = t.typelem AND t.typcategory = 'A'
       LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
      WHERE c.relnamespace = $1::regnamespace AND c.relkind IN ('r', 'p')
        AND a.attnum > 0 AND NOT a.attisdropped`,
    [schema],
  );
  for (const row of columns.rows) {
    table(row.table).columns[row.column] = columnText(
      databaseType(row.type),
      row.notnull,
      row.def === null ? undefined : databaseDefault(row.def),
    );
  }

  const indexes = await client.query<{
    table: string;
    primary: boolean;
    unique: boolean;
    columns: string[];
    expression: boolean;
  }>(
    `SELECT c.relname AS table, i.indisprimary AS primary, i.indisunique AS unique,
            (i.indexprs IS NOT NULL OR i.indpred IS NOT NULL) AS expression,
            ARRAY(
              SELECT a.attname || CASE WHEN i.indoption[k.n - 1] & 1 = 1 THEN ' DESC' ELSE '' END
                FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, n)
                JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
               WHERE k.n <= i.indnkeyatts
               ORDER BY k.n
            ) AS columns
       FROM pg_index i
       JOIN pg_class c ON c.oid = i.indrelid
      WHERE c.relnamespace = $1::regnamespace`,
    [schema],
  );
  for (const row of indexes.rows) {
    const t = table(row.table);
    if (row.primary) t.primaryKey = row.columns;
    else {
      // Prisma cannot describe expression or partial indexes: they show up as a difference.
      const suffix = row.expression ? ' (expression or partial)' : '';
      t.indexes.push(`${row.unique ? 'UNIQUE' : 'INDEX'} (${row.columns.join(', ')})${suffix}`);
    }
  }

  const fks = await client.query<{
    table: string;
    columns: string[];
    target: string;
    targetColumns: string[];
    onDelete: string;
  }>(
    `SELECT c.relname AS table, tc.relname AS target, f.confdeltype AS "onDelete",
            ARRAY(SELECT a.attname::text FROM unnest(f.conkey) WITH ORDINALITY k(attnum, n)
                    JOIN pg_attribute a ON a.attrelid = f.conrelid AND a.attnum = k.attnum ORDER BY k.n) AS columns,
            ARRAY(SELECT a.attname::text FROM unnest(f.confkey) WITH ORDINALITY k(attnum, n)
                    JOIN pg_attribute a ON a.attrelid = f.confrelid AND a.attnum = k.attnum ORDER BY k.n) AS "targetColumns"
       FROM pg_constraint f
       JOIN pg_class c ON c.oid = f.conrelid
       JOIN pg_class tc ON tc.oid = f.confrelid
      WHERE f.contype = 'f' AND c.relnamespace = $1::regnamespace`,
    [schema],
  );
  for (const row of fks.rows) {
    table(row.table).foreignKeys.push(
      foreignKey(row.columns, row.target, row.targetColumns, deleteActions[row.onDelete] ?? row.onDelete),
    );
  }

  const enumRows = await client.query<{ name: string; values: string[] }>(
    `SELECT t.typname AS name, ARRAY(SELECT e.enumlabel::text FROM pg_enum e WHERE e.enumtypid = t.oid ORDER BY e.enumsortorder) AS values
       FROM pg_type t WHERE t.typnamespace = $1::regnamespace AND t.typtype = 'e'`,
    [schema],
  );
  const enums: Record<string, string[]> = {};
  for (const row of enumRows.rows) enums[row.name] = row.values;

  for (const name of Object.keys(tables)) tables[name] = normalise(tables[name]!);
  return { tables, enums };
}

function databaseType(formatted: string): string {
  const array = formatted.endsWith('[]');
  const base = array ? formatted.slice(0, -2) : formatted;
  const timestamp = /^timestamp(?:\((\d)\))? with time zone$/.exec(base);
  const plainTimestamp = /^timestamp(?:\((\d)\))? without time zone$/.exec(base);
  let type = base;
  if (timestamp) type = `timestamptz(${timestamp[1] ?? 6})`;
  else if (plainTimestamp) type = `timestamp(${plainTimestamp[1] ?? 6})`;
  return array ? `${type}[]` : type;
}

// 'unpaired'::session_state -> unpaired, '{}'::text[] -> {}, 0 -> 0, now() -> now().
function databaseDefault(expression: string): string {
  const literal = /^'((?:[^']|'')*)'(?:::[\w ."]+(?:\[\])?)?$/.exec(expression);
  if (literal) return literal[1]!.replaceAll("''", "'");
  return expression;
}

// --- shared -------------------------------------------------------------------------------

function columnText(type: string, notNull: boolean, def: string | undefined): string {
  return `${type}${notNull ? ' NOT NULL' : ''}${def === undefined ? '' : ` DEFAULT ${def}`}`;
}

function foreignKey(columns: string[], target: string, targetColumns: string[], onDelete: string): string {
  return `(${columns.join(', ')}) -> ${target} (${targetColumns.join(', ')}) ON DELETE ${onDelete}`;
}

function normalise(table: TableShape): TableShape {
  return { ...table, indexes: [...table.indexes].sort(), foreignKeys: [...table.foreignKeys].sort() };
}

/**
 * Every way two shapes differ, as sentences naming the table, column, index or enum,
 * with `left` and `right` naming the two sides (e.g. "schema.prisma", "database").
 * Empty when they agree.
 */
export function compareSchemaShapes(
  left: SchemaShape,
  right: SchemaShape,
  names: { left: string; right: string } = { left: 'schema.prisma', right: 'database' },
): string[] {
  const differences: string[] = [];
  const only = (what: string, side: string) => differences.push(`${what} only in ${side}`);

  for (const name of union(Object.keys(left.enums), Object.keys(right.enums))) {
    const [l, r] = [left.enums[name], right.enums[name]];
    if (!l) only(`enum ${name}`, names.right);
    else if (!r) only(`enum ${name}`, names.left);
    else if (l.join(',') !== r.join(',')) {
      differences.push(
        `enum ${name}: ${names.left} has [${l.join(', ')}], ${names.right} has [${r.join(', ')}]`,
      );
    }
  }

  for (const name of union(Object.keys(left.tables), Object.keys(right.tables))) {
    const [l, r] = [left.tables[name], right.tables[name]];
    if (!l) {
      only(`table ${name}`, names.right);
      continue;
    }
    if (!r) {
      only(`table ${name}`, names.left);
      continue;
    }
    for (const column of union(Object.keys(l.columns), Object.keys(r.columns))) {
      const [lc, rc] = [l.columns[column], r.columns[column]];
      if (lc === undefined) only(`column ${name}.${column}`, names.right);
      else if (rc === undefined) only(`column ${name}.${column}`, names.left);
      else if (lc !== rc)
        differences.push(`column ${name}.${column}: ${names.left} "${lc}", ${names.right} "${rc}"`);
    }
    if (l.primaryKey.join(',') !== r.primaryKey.join(',')) {
      differences.push(
        `table ${name} primary key: ${names.left} (${l.primaryKey.join(', ')}), ${names.right} (${r.primaryKey.join(', ')})`,
      );
    }
    for (const [kind, lList, rList] of [
      ['index', l.indexes, r.indexes],
      ['foreign key', l.foreignKeys, r.foreignKeys],
    ] as const) {
      for (const item of lList.filter((x) => !rList.includes(x)))
        only(`table ${name} ${kind} ${item}`, names.left);
      for (const item of rList.filter((x) => !lList.includes(x)))
        only(`table ${name} ${kind} ${item}`, names.right);
    }
  }
  return differences;
}

function union(a: string[], b: string[]): string[] {
  return [...new Set([...a, ...b])].sort();
}
