import { z } from 'zod';
import { ApiError } from './errors.ts';

/** A uuid path parameter. */
export const idParams = z.strictObject({ id: z.uuid({ error: 'must be a uuid' }) });

/** The query of every list: an opaque cursor and a page size. */
export const pageQuery = z.strictObject({
  cursor: z.string().max(200).optional().describe('The nextCursor of the previous page.'),
  limit: z.coerce.number().int().min(1).max(100).default(50).describe('Page size, 1-100.'),
});

/** A page of `item`: the rows and the cursor of the next page (null on the last). */
export function page<T extends z.ZodType>(item: T) {
  return z.strictObject({ items: z.array(item), nextCursor: z.string().nullable() });
}

/** The error body of every 4xx/5xx. */
export const errorBody = z
  .strictObject({
    error: z.strictObject({
      code: z.string(),
      message: z.string(),
      issues: z.array(z.strictObject({ path: z.string(), message: z.string() })).optional(),
    }),
  })
  .describe('An error: a stable code and a message saying what was wrong.');

/** Decoded keyset cursor: position (createdAt, id) of the last row of the previous page. */
export interface Cursor {
  at: Date;
  id: string;
}

const cursorShape = z.strictObject({ at: z.iso.datetime(), id: z.uuid() });

/** Encodes the position after `row`. */
export function encodeCursor(at: Date, id: string): string {
  return Buffer.from(JSON.stringify({ at: at.toISOString(), id })).toString('base64url');
}

/** Decodes a cursor from the query; a malformed one is a 400 naming `query.cursor`. */
export function decodeCursor(cursor: string | undefined): Cursor | undefined {
  if (cursor === undefined) return undefined;
  try {
    const parsed = cursorShape.parse(JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')));
    return { at: new Date(parsed.at), id: parsed.id };
  } catch {
    throw new ApiError('invalid_cursor', 'query.cursor is not a cursor this API returned', {
      issues: [{ path: 'query.cursor', message: 'not a valid cursor' }],
    });
  }
}

/** The Prisma `where` fragment for rows after `cursor` in (field desc, id desc), to the millisecond. */
function afterCursorMs(cursor: Cursor, field: string): Record<string, unknown> {
  return { OR: [{ [field]: { lt: cursor.at } }, { [field]: cursor.at, id: { lt: cursor.id } }] };
}

/** The arguments a page's findMany spreads: its cursor's `where` part or Prisma's own cursor, how many, the order. */
export interface PageArgs<F extends string = string> {
  where: Record<string, unknown>;
  cursor?: { id: string };
  take: number;
  orderBy: ReturnType<typeof newestOrder<F>>;
}

/**
 * The `limit + 1` rows after `cursor` of a list in (field desc, id desc) order (one more than the
 * page, to know whether another follows), read by `find`, which spreads the arguments (the order
 * included) into its findMany, merging its own filters into `where`. With Prisma's cursor the position is compared
 * in the database with the cursor row's own values, microseconds kept: rows written within one
 * millisecond (a batch's messages, contacts and deliveries are) are neither skipped nor repeated,
 * which a cursor time cut to milliseconds cannot promise. The cursor row itself comes back when it
 * still matches the filters and is dropped here. When that row is gone (erased, deleted), the page
 * continues after the cursor's millisecond instead.
 */
export async function rowsAfter<R extends { id: string }, F extends string>(
  cursor: Cursor | undefined,
  field: F,
  limit: number,
  find: (args: PageArgs<F>) => Promise<R[]>,
): Promise<R[]> {
  const orderBy = newestOrder(field);
  if (!cursor) return await find({ where: {}, take: limit + 1, orderBy });
  const rows = await find({ where: {}, cursor: { id: cursor.id }, take: limit + 2, orderBy });
  // A cursor is only handed out when a row follows it: none means its row no longer exists.
  if (rows.length === 0) return await find({ where: afterCursorMs(cursor, field), take: limit + 1, orderBy });
  return rows.filter((row) => row.id !== cursor.id).slice(0, limit + 1);
}

/** Cuts a fetched `limit + 1` rows into a page. */
export function toPage<R extends { id: string }, T>(
  rows: R[],
  limit: number,
  at: (row: R) => Date,
  map: (row: R) => T,
): { items: T[]; nextCursor: string | null } {
  const more = rows.length > limit;
  const kept = more ? rows.slice(0, limit) : rows;
  const last = kept.at(-1);
  return { items: kept.map(map), nextCursor: more && last ? encodeCursor(at(last), last.id) : null };
}

/** The newest-first order of a keyset list on `field` then id. */
export function newestOrder<F extends string>(field: F) {
  return [{ [field]: 'desc' }, { id: 'desc' }] as { [K in F | 'id']?: 'desc' }[];
}

/**
 * A newest-first keyset list on `field` then id, for lists whose only filter is the cursor: `find`
 * reads one row more than the page (to know whether another follows) with the arguments to spread
 * into findMany, the order included (rowsAfter), `page` cuts the rows into a page.
 */
export function newestFirst<F extends string>(
  query: { cursor?: string | undefined; limit: number },
  field: F,
) {
  const cursor = decodeCursor(query.cursor);
  return {
    find: <R extends { id: string }>(run: (args: PageArgs<F>) => Promise<R[]>): Promise<R[]> =>
      rowsAfter(cursor, field, query.limit, run),
    page: <R extends { id: string } & Record<F, Date>, T>(rows: R[], map: (row: R) => T) =>
      toPage(rows, query.limit, (row) => row[field], map),
  };
}

/** An ISO date-time string, or null. */
export const isoOrNull = z.iso.datetime().nullable();

/** Date -> ISO string (null-safe). */
export function iso(date: Date | null | undefined): string | null {
  return date ? date.toISOString() : null;
}

/** The Idempotency-Key header of every send. */
export const idempotencyHeaders = z.object({
  'idempotency-key': z
    .string({ error: 'the Idempotency-Key header is required' })
    .min(1)
    .max(200)
    .describe('Any unique string per intended message; retries reuse it.'),
});
