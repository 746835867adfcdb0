// The operator's view of the configured tenant (GET /internal/status): sessions and the owner.
import { type SessionState, tenantIdForSlug, withTenant } from '@switchboard/db';
import type { ApiContext } from '../context.ts';
import { hasActiveOwner } from './team.ts';

/** Every session state, in the order the status lists them. */
export const SESSION_STATES = [
  'unpaired',
  'pairing',
  'connecting',
  'connected',
  'disconnected',
  'logged_out',
] as const satisfies readonly SessionState[];

/** Most sessions the status lists one by one (a tenant declares a handful; the counts cover all). */
export const STATUS_SESSIONS_LISTED = 500;

/** What GET /internal/status answers: the operator's view of the configured tenant. */
export interface TenantStatus {
  tenant: string;
  sessions: {
    total: number;
    byState: Record<SessionState, number>;
    /** Each session by name, declared ones first, at most STATUS_SESSIONS_LISTED. */
    items: { name: string; state: SessionState; declared: boolean }[];
  };
  /** Whether an owner can sign in (has set a password): the operator's owner invite is done then. */
  owner: { active: boolean };
}

/**
 * The configured tenant's sessions (how many in each state, and each by name, so the operator
 * can name the declared sessions that are not connected) and whether it has an active owner.
 */
export async function tenantStatus(ctx: ApiContext): Promise<TenantStatus> {
  const slug = ctx.defaultTenant;
  const [groups, items, owner] = await Promise.all([
    withTenant(ctx.db, tenantIdForSlug(slug), (tx) =>
      tx.session.groupBy({ by: ['state'], _count: { _all: true } }),
    ),
    withTenant(ctx.db, tenantIdForSlug(slug), (tx) =>
      tx.session.findMany({
        select: { name: true, state: true, declared: true },
        orderBy: [{ declared: 'desc' }, { name: 'asc' }],
        take: STATUS_SESSIONS_LISTED,
      }),
    ),
    hasActiveOwner(ctx),
  ]);
  const byState = Object.fromEntries(SESSION_STATES.map((s) => [s, 0])) as Record<SessionState, number>;
  for (const g of groups) byState[g.state] = g._count._all;
  return {
    tenant: slug,
    sessions: { total: groups.reduce((n, g) => n + g._count._all, 0), byState, items },
    owner: { active: owner },
  };
}
