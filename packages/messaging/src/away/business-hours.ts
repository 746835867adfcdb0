// A tenant's business hours: the settings' schema (the API validates with it, the worker reads
// with it), the one reader of the saved settings, and whether an instant falls within them, on
// the wall clock of the tenant's IANA zone.
import type { TenantTx } from '@switchboard/db';
import { z } from 'zod';

/** Days of the week as the schedule names them. */
export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
/** A day of the week. */
export type Weekday = (typeof WEEKDAYS)[number];

const clock = z.string().regex(/^(?:[01]\d|2[0-3]):[0-5]\d$|^24:00$/, 'must be HH:MM (00:00 to 24:00)');

/** Minutes since midnight of an `HH:MM` time (`24:00` is 1440). */
export function minutesOf(time: string): number {
  const [hours, minutes] = time.split(':').map(Number);
  return hours! * 60 + minutes!;
}

/** Whether `zone` is an IANA time zone this runtime knows. */
export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** One opening interval of a day: from `open` up to (not including) `close`, on the local clock. */
export const openingIntervalSchema = z
  .strictObject({ day: z.enum(WEEKDAYS), open: clock, close: clock })
  .refine((i) => minutesOf(i.open) < minutesOf(i.close), {
    error: 'open must be before close (a span past midnight is two intervals)',
    path: ['close'],
  });

/** A tenant's business hours and away reply, as the API takes and shows them. */
export const businessHoursSchema = z
  .strictObject({
    enabled: z.boolean(),
    timeZone: z
      .string()
      .min(1)
      .max(64)
      .refine(isTimeZone, 'must be an IANA time zone, e.g. Europe/Berlin')
      .describe('IANA time zone the schedule is read in (its daylight saving time included).'),
    schedule: z
      .array(openingIntervalSchema)
      .max(70)
      .describe('Opening intervals; a day not listed is closed.'),
    awayMessage: z
      .string()
      .trim()
      .min(1)
      .max(4096)
      .nullable()
      .describe('Sent outside the hours; null: none.'),
    awayWindowMinutes: z
      .number()
      .int()
      .min(1)
      .max(10_080)
      .describe('At most one away reply per conversation within this many minutes (default 720).'),
  })
  .refine((hours) => !hours.enabled || hours.awayMessage !== null, {
    error: 'give an awayMessage to enable away replies',
    path: ['awayMessage'],
  });

/** Business hours settings. */
export type BusinessHours = z.infer<typeof businessHoursSchema>;

/** The settings of a tenant that never saved any: off, UTC, no hours, a 12 h window. */
export const DEFAULT_BUSINESS_HOURS: BusinessHours = {
  enabled: false,
  timeZone: 'UTC',
  schedule: [],
  awayMessage: null,
  awayWindowMinutes: 720,
};

/**
 * The tenant's saved business hours, read in `tx` and parsed again with businessHoursSchema (as
 * anything read back is); undefined when never saved or no longer valid (a time zone this
 * runtime does not know). The API shows the defaults then; the away replier and the assistant
 * treat the tenant as open (never "outside hours").
 */
export async function readBusinessHours(tx: TenantTx, tenantId: string): Promise<BusinessHours | undefined> {
  const row = await tx.businessHours.findUnique({ where: { tenantId } });
  if (!row) return undefined;
  const parsed = businessHoursSchema.safeParse({
    enabled: row.enabled,
    timeZone: row.timeZone,
    schedule: row.schedule,
    awayMessage: row.awayMessage,
    awayWindowMinutes: row.awayWindowMinutes,
  });
  return parsed.success ? parsed.data : undefined;
}

const WEEKDAY_OF: Record<string, Weekday> = {
  Mon: 'mon',
  Tue: 'tue',
  Wed: 'wed',
  Thu: 'thu',
  Fri: 'fri',
  Sat: 'sat',
  Sun: 'sun',
};

/** The weekday and minute of the day `at` shows on the clocks of `timeZone`. */
export function localClock(at: Date, timeZone: string): { day: Weekday; minute: number } {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    weekday: 'short',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  }).formatToParts(at);
  const part = (type: string) => parts.find((p) => p.type === type)?.value ?? '';
  return { day: WEEKDAY_OF[part('weekday')]!, minute: Number(part('hour')) * 60 + Number(part('minute')) };
}

/**
 * Whether `at` is within the business hours: the local weekday and time in the tenant's zone
 * fall in one of that day's intervals. Wall-clock based, so daylight saving time needs no
 * special case: an interval 09:00-17:00 is 09:00-17:00 local on the day the clocks change.
 */
export function isWithinBusinessHours(
  hours: Pick<BusinessHours, 'timeZone' | 'schedule'>,
  at: Date,
): boolean {
  const { day, minute } = localClock(at, hours.timeZone);
  return hours.schedule.some(
    (i) => i.day === day && minutesOf(i.open) <= minute && minute < minutesOf(i.close),
  );
}
