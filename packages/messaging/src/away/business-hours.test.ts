// Business hours on the tenant's wall clock: day boundaries in a zone far from UTC, and both
// daylight saving time changes (Europe/Berlin, America/New_York), with the instant given.
import { describe, expect, it } from 'vitest';
import { businessHoursSchema, isWithinBusinessHours, localClock } from './business-hours.ts';

const weekdays = (['mon', 'tue', 'wed', 'thu', 'fri'] as const).map((day) => ({
  day,
  open: '09:00',
  close: '17:00',
}));

describe('isWithinBusinessHours', () => {
  it('reads the day and time in the tenant zone, not in UTC', () => {
    const tokyo = { timeZone: 'Asia/Tokyo', schedule: weekdays };
    // Sunday 2026-03-01 23:30 UTC is Monday 08:30 in Tokyo: closed until 09:00 local.
    expect(localClock(new Date('2026-03-01T23:30:00Z'), 'Asia/Tokyo')).toEqual({ day: 'mon', minute: 510 });
    expect(isWithinBusinessHours(tokyo, new Date('2026-03-01T23:30:00Z'))).toBe(false);
    // 00:00 UTC Monday = 09:00 Monday in Tokyo: open (open is inclusive).
    expect(isWithinBusinessHours(tokyo, new Date('2026-03-02T00:00:00Z'))).toBe(true);
    // 07:59 UTC = 16:59 local: open; 08:00 UTC = 17:00 local: closed (close is exclusive).
    expect(isWithinBusinessHours(tokyo, new Date('2026-03-02T07:59:00Z'))).toBe(true);
    expect(isWithinBusinessHours(tokyo, new Date('2026-03-02T08:00:00Z'))).toBe(false);
    // Friday 2026-03-06 10:00 local is open; Saturday is not listed: closed all day.
    expect(isWithinBusinessHours(tokyo, new Date('2026-03-06T01:00:00Z'))).toBe(true);
    expect(isWithinBusinessHours(tokyo, new Date('2026-03-07T01:00:00Z'))).toBe(false);
  });

  it('spans midnight as two intervals, and 24:00 closes at the end of the day', () => {
    const nights = {
      timeZone: 'UTC',
      schedule: [
        { day: 'fri' as const, open: '22:00', close: '24:00' },
        { day: 'sat' as const, open: '00:00', close: '02:00' },
      ],
    };
    expect(isWithinBusinessHours(nights, new Date('2026-03-06T23:59:59Z'))).toBe(true);
    expect(isWithinBusinessHours(nights, new Date('2026-03-07T00:00:00Z'))).toBe(true);
    expect(isWithinBusinessHours(nights, new Date('2026-03-07T02:00:00Z'))).toBe(false);
    expect(isWithinBusinessHours(nights, new Date('2026-03-06T21:59:00Z'))).toBe(false);
  });

  it('keeps 09:00-17:00 local across the spring and autumn clock changes (Berlin)', () => {
    const berlin = {
      timeZone: 'Europe/Berlin',
      schedule: [{ day: 'sun' as const, open: '09:00', close: '17:00' }, ...weekdays],
    };
    // 2026-03-29: clocks go 02:00 -> 03:00 (UTC+1 -> UTC+2). 09:00 local is 07:00 UTC that day.
    expect(isWithinBusinessHours(berlin, new Date('2026-03-29T06:59:00Z'))).toBe(false);
    expect(isWithinBusinessHours(berlin, new Date('2026-03-29T07:00:00Z'))).toBe(true);
    expect(isWithinBusinessHours(berlin, new Date('2026-03-29T14:59:00Z'))).toBe(true);
    expect(isWithinBusinessHours(berlin, new Date('2026-03-29T15:00:00Z'))).toBe(false);
    // The Monday before (still UTC+1): 09:00 local is 08:00 UTC.
    expect(isWithinBusinessHours(berlin, new Date('2026-03-23T07:30:00Z'))).toBe(false);
    expect(isWithinBusinessHours(berlin, new Date('2026-03-23T08:00:00Z'))).toBe(true);
    // 2026-10-25: clocks go 03:00 -> 02:00 (UTC+2 -> UTC+1). 09:00 local is 08:00 UTC that day.
    expect(isWithinBusinessHours(berlin, new Date('2026-10-25T07:30:00Z'))).toBe(false);
    expect(isWithinBusinessHours(berlin, new Date('2026-10-25T08:00:00Z'))).toBe(true);
    expect(isWithinBusinessHours(berlin, new Date('2026-10-25T15:59:00Z'))).toBe(true);
    expect(isWithinBusinessHours(berlin, new Date('2026-10-25T16:00:00Z'))).toBe(false);
  });

  it('reads the repeated and the skipped hour on the local clock (New York)', () => {
    const early = {
      timeZone: 'America/New_York',
      schedule: [{ day: 'sun' as const, open: '01:00', close: '03:00' }],
    };
    // 2026-11-01: 01:00-02:00 local happens twice (05:00 and 06:00 UTC); both are within.
    expect(isWithinBusinessHours(early, new Date('2026-11-01T05:30:00Z'))).toBe(true);
    expect(isWithinBusinessHours(early, new Date('2026-11-01T06:30:00Z'))).toBe(true);
    // 2026-03-08: 02:00-03:00 local does not exist; 06:59 UTC is 01:59 EST, 07:00 UTC is 03:00 EDT.
    expect(isWithinBusinessHours(early, new Date('2026-03-08T06:59:00Z'))).toBe(true);
    expect(isWithinBusinessHours(early, new Date('2026-03-08T07:00:00Z'))).toBe(false);
  });
});

describe('businessHoursSchema', () => {
  const valid = {
    enabled: true,
    timeZone: 'Europe/Berlin',
    schedule: weekdays,
    awayMessage: 'We are closed',
    awayWindowMinutes: 720,
  };

  it('accepts valid hours and refuses each bad field by name', () => {
    expect(businessHoursSchema.safeParse(valid).success).toBe(true);
    const issue = (input: object) => {
      const parsed = businessHoursSchema.safeParse({ ...valid, ...input });
      return parsed.success
        ? undefined
        : `${parsed.error.issues[0]!.path.join('.')}: ${parsed.error.issues[0]!.message}`;
    };
    expect(issue({ timeZone: 'Mars/Olympus' })).toBe(
      'timeZone: must be an IANA time zone, e.g. Europe/Berlin',
    );
    expect(issue({ schedule: [{ day: 'mon', open: '18:00', close: '09:00' }] })).toMatch(
      /^schedule\.0\.close: open must be before close/,
    );
    expect(issue({ schedule: [{ day: 'mon', open: '9:00', close: '17:00' }] })).toMatch(
      /^schedule\.0\.open: must be HH:MM/,
    );
    expect(issue({ schedule: [{ day: 'funday', open: '09:00', close: '17:00' }] })).toMatch(
      /^schedule\.0\.day/,
    );
    expect(issue({ awayMessage: null })).toBe('awayMessage: give an awayMessage to enable away replies');
    expect(issue({ awayWindowMinutes: 0 })).toMatch(/^awayWindowMinutes/);
    expect(issue({ enabled: false, awayMessage: null })).toBeUndefined();
  });
});
