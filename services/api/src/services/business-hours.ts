// The tenant's business hours and away reply (read by the worker's away replies): read with the
// defaults when never saved, replaced whole, audited.
import {
  type BusinessHours,
  DEFAULT_BUSINESS_HOURS,
  isWithinBusinessHours,
  readBusinessHours,
} from '@switchboard/messaging/producer';
import type { FastifyRequest } from 'fastify';
import { audit } from '../audit.ts';
import { type ApiContext, tenantTx } from '../context.ts';

/** The settings and whether the tenant is open at `now`. */
export type BusinessHoursView = BusinessHours & { openNow: boolean };

function view(hours: BusinessHours, now: Date): BusinessHoursView {
  return { ...hours, openNow: isWithinBusinessHours(hours, now) };
}

/** The tenant's business hours (the defaults, off, when never saved). */
export async function getBusinessHours(ctx: ApiContext, request: FastifyRequest): Promise<BusinessHoursView> {
  const hours = await tenantTx(ctx, request, (tx) => readBusinessHours(tx, request.principal.tenantId));
  return view(hours ?? DEFAULT_BUSINESS_HOURS, new Date());
}

/** Replaces the tenant's business hours (validated by the route with businessHoursSchema). */
export async function putBusinessHours(
  ctx: ApiContext,
  request: FastifyRequest,
  hours: BusinessHours,
): Promise<BusinessHoursView> {
  const tenantId = request.principal.tenantId;
  await tenantTx(ctx, request, async (tx) => {
    const data = {
      enabled: hours.enabled,
      timeZone: hours.timeZone,
      schedule: hours.schedule,
      awayMessage: hours.awayMessage,
      awayWindowMinutes: hours.awayWindowMinutes,
    };
    await tx.businessHours.upsert({ where: { tenantId }, create: { tenantId, ...data }, update: data });
    await audit(
      tx,
      request,
      'settings.business_hours_updated',
      { type: 'tenant', id: tenantId },
      { enabled: hours.enabled, timeZone: hours.timeZone },
    );
  });
  return view(hours, new Date());
}
