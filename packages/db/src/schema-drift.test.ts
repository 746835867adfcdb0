import { readFile } from 'node:fs/promises';
import { createTestDatabase } from '@switchboard/testing';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  compareSchemaShapes,
  databaseSchemaShape,
  prismaSchemaShape,
  type SchemaShape,
  schemaPrismaPath,
} from './schema-drift.ts';

let schemaText: string;
let prisma: SchemaShape;

beforeAll(async () => {
  schemaText = await readFile(schemaPrismaPath, 'utf8');
  prisma = await prismaSchemaShape(schemaText);
});

/** schema.prisma with one exact snippet replaced (fails loudly if the snippet is gone). */
function edited(from: string | RegExp, to: string): string {
  const result = schemaText.replace(from, to);
  if (result === schemaText) throw new Error(`snippet not found in schema.prisma: ${from}`);
  return result;
}

async function differencesAfter(from: string | RegExp, to: string): Promise<string[]> {
  return compareSchemaShapes(prisma, await prismaSchemaShape(edited(from, to)), {
    left: 'schema.prisma',
    right: 'edited',
  });
}

describe('the comparer, on deliberately different schemas', () => {
  it('finds nothing between a schema and itself', async () => {
    expect(compareSchemaShapes(prisma, await prismaSchemaShape(schemaText))).toEqual([]);
  });

  it('reads every model, field and enum', () => {
    expect(Object.keys(prisma.tables)).toHaveLength(42);
    expect(prisma.tables.messages?.columns.provider_message_id).toBe('text');
    expect(prisma.tables.sessions?.columns.epoch).toBe('bigint NOT NULL DEFAULT 0');
    expect(prisma.enums.session_channel).toEqual(['baileys', 'cloud-api']);
  });

  it('reports an extra field, a missing field, a changed type and a changed nullability', async () => {
    expect(
      await differencesAfter('  pushName    String?', '  nickname    String?\n  pushName    String?'),
    ).toEqual(['column contacts.nickname only in edited']);
    expect(await differencesAfter(/\n\s+owner\s+String\?\n/, '\n')).toEqual([
      'column sessions.owner only in schema.prisma',
    ]);
    expect(await differencesAfter('unreadCount   Int ', 'unreadCount   BigInt ')).toEqual([
      'column conversations.unread_count: schema.prisma "integer NOT NULL DEFAULT 0", edited "bigint NOT NULL DEFAULT 0"',
    ]);
    expect(
      await differencesAfter(
        'displayName String?  @map("display_name")',
        'displayName String  @map("display_name")',
      ),
    ).toEqual(['column contacts.display_name: schema.prisma "text", edited "text NOT NULL"']);
  });

  it('reports a changed enum, table name, index order and uniqueness, and foreign key action', async () => {
    expect(await differencesAfter('  logged_out\n', '  logged_out\n  banned\n')).toEqual([
      'enum session_state: schema.prisma has [unpaired, pairing, connecting, connected, disconnected, logged_out], edited has [unpaired, pairing, connecting, connected, disconnected, logged_out, banned]',
    ]);
    expect(await differencesAfter('@@map("quick_replies")', '@@map("canned_replies")')).toEqual([
      'table canned_replies only in edited',
      'table quick_replies only in schema.prisma',
    ]);
    expect(
      await differencesAfter(
        '@@index([conversationId, createdAt(sort: Desc), id(sort: Desc)])',
        '@@index([conversationId, createdAt, id])',
      ),
    ).toEqual([
      'table messages index INDEX (conversation_id, created_at DESC, id DESC) only in schema.prisma',
      'table messages index INDEX (conversation_id, created_at, id) only in edited',
    ]);
    expect(
      await differencesAfter(
        '@@unique([sessionId, providerMessageId])',
        '@@index([sessionId, providerMessageId])',
      ),
    ).toEqual([
      'table messages index UNIQUE (session_id, provider_message_id) only in schema.prisma',
      'table messages index INDEX (session_id, provider_message_id) only in edited',
    ]);
    expect(
      await differencesAfter(
        'contact Contact @relation(fields: [tenantId, contactId], references: [tenantId, id], onDelete: Cascade)',
        'contact Contact @relation(fields: [tenantId, contactId], references: [tenantId, id], onDelete: Restrict)',
      ),
    ).toEqual([
      'table contact_identities foreign key (tenant_id, contact_id) -> contacts (tenant_id, id) ON DELETE CASCADE only in schema.prisma',
      'table contact_identities foreign key (tenant_id, contact_id) -> contacts (tenant_id, id) ON DELETE RESTRICT only in edited',
    ]);
  });
});

describe('schema.prisma and the migrated database', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let owner: pg.Client;

  beforeAll(async () => {
    database = await createTestDatabase({ label: 'schema-drift' });
    owner = new pg.Client({ connectionString: database.ownerUrl });
    await owner.connect();
  });

  afterAll(async () => {
    await owner?.end();
    await database?.drop();
  });

  it('agree on every table, column, type, nullability, default, enum, index and foreign key', async () => {
    const actual = await databaseSchemaShape(owner);
    expect(compareSchemaShapes(prisma, actual)).toEqual([]);
    expect(Object.keys(actual.tables).sort()).toEqual(Object.keys(prisma.tables).sort());
  });

  it('disagree once the database gains a column, loses an index or gains an enum value', async () => {
    await owner.query('BEGIN');
    try {
      await owner.query('ALTER TABLE contacts ADD COLUMN nickname text');
      await owner.query('DROP INDEX conversations_tenant_id_contact_id_idx');
      await owner.query(`ALTER TYPE message_status ADD VALUE 'played'`);
      await owner.query('ALTER TABLE webhook_deliveries ALTER COLUMN latency_ms SET NOT NULL');
      expect(compareSchemaShapes(prisma, await databaseSchemaShape(owner))).toEqual([
        'enum message_status: schema.prisma has [queued, sent, delivered, read, failed], database has [queued, sent, delivered, read, failed, played]',
        'column contacts.nickname only in database',
        'table conversations index INDEX (tenant_id, contact_id) only in schema.prisma',
        'column webhook_deliveries.latency_ms: schema.prisma "integer", database "integer NOT NULL"',
      ]);
    } finally {
      await owner.query('ROLLBACK');
    }
  });
});
