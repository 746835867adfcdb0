import { randomBytes } from 'node:crypto';
import { dropTenantDatabase, migrate, provisionTenantDatabase } from '@switchboard/db';
import { inject } from 'vitest';
import './provided-context.ts';
import { postgresUrl } from './postgres-server.ts';

/** A database of its own for one test file, provisioned as the operator provisions a tenant's. */
export interface TestDatabase {
  /** The database name (unique in the run). */
  name: string;
  /** The role that owns the database and ran the migrations. */
  ownerRole: string;
  /** The application's runtime role: NOSUPERUSER, NOBYPASSRLS, owns nothing. */
  appRole: string;
  /** Connection string as the owner (migrations, seeding around RLS in tests). */
  ownerUrl: string;
  /** Connection string as the application role: what services use, subject to RLS. */
  appUrl: string;
  /** Connection string as the server's superuser, on this database. */
  adminUrl: string;
  /** Drops the database and its roles. */
  drop(): Promise<void>;
}

/** Options for {@link createTestDatabase}. */
export interface CreateTestDatabaseOptions {
  /** Part of the database name, to find it in logs. */
  label?: string;
  /** Apply every migration (the default); false leaves the database empty. */
  migrate?: boolean;
}

/** The run's Postgres server as a superuser connection string to the given database. */
export function adminDatabaseUrl(database = 'postgres'): string {
  const server = inject('postgres');
  return postgresUrl(server, server.user, server.password, database);
}

/**
 * Creates a fresh database on the run's Postgres with its own owner and application roles
 * (provisionTenantDatabase, as the operator does for a managed tenant) and, unless told
 * otherwise, applies every migration as the owner. Call `drop()` in afterAll.
 */
export async function createTestDatabase(options: CreateTestDatabaseOptions = {}): Promise<TestDatabase> {
  const label = (options.label ?? 'db')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .slice(0, 20);
  const name = `sbt_${label}_${randomBytes(4).toString('hex')}`;
  const ownerRole = `${name}_owner`;
  const appRole = `${name}_app`;
  const adminUrl = adminDatabaseUrl();
  const urls = await provisionTenantDatabase(adminUrl, {
    database: name,
    ownerRole,
    appRole,
    passwords: { owner: randomBytes(12).toString('hex'), app: randomBytes(12).toString('hex') },
  });
  const drop = () => dropTenantDatabase(adminUrl, { database: name, roles: [appRole, ownerRole] });
  if (options.migrate ?? true) {
    try {
      await migrate({ databaseUrl: urls.ownerUrl, direction: 'up', appRole });
    } catch (error) {
      await drop();
      throw error;
    }
  }
  return { name, ownerRole, appRole, ...urls, adminUrl: adminDatabaseUrl(name), drop };
}
