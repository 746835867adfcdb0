// Contacts imported from CSV (issue #20.3): a header row naming `phone` and optionally `name` and
// `labels` (label names separated by `;`), one contact per row. Rows are validated one by one;
// the bad ones are reported with their line number and reason, the good ones create or match a
// contact (by phone number), set the name when the contact has none, and apply the labels
// (created when new). The import is one transaction, and its contacts are a campaign segment.
import { parse } from 'csv-parse/sync';
import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { audit } from '../audit.ts';
import { type ApiContext, tenantTx } from '../context.ts';
import { ApiError, notFound } from '../errors.ts';

/** At most this many data rows per file. */
export const IMPORT_MAX_ROWS = 10_000;

/** A new label's colour when a row names a label that does not exist yet. */
const NEW_LABEL_COLOR = '#6b7280';

/** A rejected row. */
export const rejectedRowSchema = z.strictObject({
  line: z.number().int().describe('The line of the file (the header is line 1).'),
  reason: z.string(),
});

/** An import's report. */
export const contactImportSchema = z.strictObject({
  id: z.uuid(),
  fileName: z.string(),
  totalRows: z.number().int(),
  imported: z.number().int().describe('Rows that created or matched a contact.'),
  contactIds: z.array(z.uuid()),
  rejected: z.array(rejectedRowSchema),
  createdAt: z.iso.datetime(),
});
export type ContactImportView = z.infer<typeof contactImportSchema>;

/** A phone number as written in a file, as E.164 digits without '+' (undefined when it is not one). */
export function phoneDigits(raw: string): string | undefined {
  const compact = raw.replace(/[\s().-]/g, '');
  const digits = compact.startsWith('+')
    ? compact.slice(1)
    : compact.startsWith('00')
      ? compact.slice(2)
      : compact;
  // E.164: at most 15 digits, a country code that does not start with 0; 8 is the shortest in use.
  return /^[1-9]\d{7,14}$/.test(digits) ? digits : undefined;
}

interface ValidRow {
  line: number;
  phone: string;
  name: string | undefined;
  labels: string[];
}

/** The rows of `csv`, validated: the good ones, and the rejected ones with their reasons. */
export function validateRows(csv: string): {
  rows: ValidRow[];
  rejected: { line: number; reason: string }[];
  total: number;
} {
  let records: { record: Record<string, string>; info: { lines: number } }[];
  try {
    records = parse(csv, {
      columns: (header: string[]) => header.map((h) => h.trim().toLowerCase()),
      skip_empty_lines: true,
      trim: true,
      bom: true,
      relax_column_count: true,
      info: true,
    }) as unknown as typeof records;
  } catch (error) {
    const line = (error as { lines?: number }).lines;
    throw new ApiError(
      'validation_failed',
      `body.csv is not valid CSV${line ? ` (line ${line})` : ''}: ${(error as Error).message}`,
      { issues: [{ path: 'body.csv', message: 'not valid CSV' }] },
    );
  }
  const header = records[0] ? Object.keys(records[0].record) : parseHeader(csv);
  if (!header.includes('phone'))
    throw new ApiError('validation_failed', 'body.csv: the header row must name a `phone` column', {
      issues: [{ path: 'body.csv', message: 'no phone column' }],
    });
  if (records.length > IMPORT_MAX_ROWS)
    throw new ApiError(
      'validation_failed',
      `body.csv has ${records.length} rows; at most ${IMPORT_MAX_ROWS}`,
      {
        issues: [{ path: 'body.csv', message: 'too many rows' }],
      },
    );
  const rows: ValidRow[] = [];
  const rejected: { line: number; reason: string }[] = [];
  const seen = new Map<string, number>();
  for (const { record, info } of records) {
    const line = info.lines;
    const raw = record.phone ?? '';
    const phone = phoneDigits(raw);
    const name = record.name ? record.name : undefined;
    const labels = (record.labels ?? '')
      .split(';')
      .map((l) => l.trim())
      .filter((l) => l.length > 0);
    if (!raw) rejected.push({ line, reason: 'phone is empty' });
    else if (!phone)
      rejected.push({
        line,
        reason: `phone "${raw.slice(0, 40)}" is not an international number (8 to 15 digits)`,
      });
    else if (seen.has(phone))
      rejected.push({ line, reason: `phone ${phone} repeats line ${seen.get(phone)}` });
    else if (name !== undefined && name.length > 200)
      rejected.push({ line, reason: 'name is longer than 200 characters' });
    else if (labels.some((l) => l.length > 50))
      rejected.push({ line, reason: 'a label name is longer than 50 characters' });
    else {
      seen.set(phone, line);
      rows.push({ line, phone, name, labels });
    }
  }
  return { rows, rejected, total: records.length };
}

function parseHeader(csv: string): string[] {
  const first = csv.replace(/^\uFEFF/, '').split(/\r?\n/, 1)[0] ?? '';
  return first.split(',').map((h) => h.trim().toLowerCase());
}

/** Imports `csv`: validates every row, stores the good ones, and records the report. */
export async function importContacts(
  ctx: ApiContext,
  request: FastifyRequest,
  input: { fileName: string; csv: string },
): Promise<ContactImportView> {
  const tenantId = request.principal.tenantId;
  const { rows, rejected, total } = validateRows(input.csv);
  return await tenantTx(ctx, request, async (tx) => {
    const labelIds = new Map<string, string>();
    for (const name of new Set(rows.flatMap((r) => r.labels))) {
      const label =
        (await tx.label.findFirst({ where: { name } })) ??
        (await tx.label.create({ data: { tenantId, name, color: NEW_LABEL_COLOR } }));
      labelIds.set(name, label.id);
    }
    const contactIds: string[] = [];
    for (const row of rows) {
      const identity = await tx.contactIdentity.findFirst({ where: { kind: 'pn', value: row.phone } });
      let contactId = identity?.contactId;
      if (!contactId) {
        const contact = await tx.contact.create({ data: { tenantId, displayName: row.name ?? null } });
        await tx.contactIdentity.create({
          data: { tenantId, contactId: contact.id, kind: 'pn', value: row.phone },
        });
        contactId = contact.id;
      } else if (row.name) {
        await tx.contact.updateMany({
          where: { id: contactId, displayName: null },
          data: { displayName: row.name },
        });
      }
      contactIds.push(contactId);
      if (row.labels.length > 0)
        await tx.contactLabel.createMany({
          data: row.labels.map((l) => ({ tenantId, contactId, labelId: labelIds.get(l)! })),
          skipDuplicates: true,
        });
    }
    const record = await tx.contactImport.create({
      data: {
        tenantId,
        fileName: input.fileName,
        contactIds,
        rejected,
        totalRows: total,
        createdById: request.principal.kind === 'user' ? request.principal.userId : null,
      },
    });
    await audit(
      tx,
      request,
      'contacts.imported',
      { type: 'contact_import', id: record.id },
      { fileName: input.fileName, rows: total, imported: contactIds.length, rejected: rejected.length },
    );
    return importView(record);
  });
}

function importView(row: {
  id: string;
  fileName: string;
  totalRows: number;
  contactIds: string[];
  rejected: unknown;
  createdAt: Date;
}): ContactImportView {
  return {
    id: row.id,
    fileName: row.fileName,
    totalRows: row.totalRows,
    imported: row.contactIds.length,
    contactIds: row.contactIds,
    rejected: z.array(rejectedRowSchema).parse(row.rejected),
    createdAt: row.createdAt.toISOString(),
  };
}

/** The tenant's imports, newest first (at most 100). */
export async function listImports(ctx: ApiContext, request: FastifyRequest): Promise<ContactImportView[]> {
  return await tenantTx(ctx, request, async (tx) =>
    (await tx.contactImport.findMany({ orderBy: [{ createdAt: 'desc' }, { id: 'desc' }], take: 100 })).map(
      importView,
    ),
  );
}

/** Import `id`'s report. */
export async function getImport(
  ctx: ApiContext,
  request: FastifyRequest,
  id: string,
): Promise<ContactImportView> {
  const row = await tenantTx(ctx, request, (tx) => tx.contactImport.findUnique({ where: { id } }));
  if (!row) throw notFound('contact import');
  return importView(row);
}
