import { useCallback, useEffect, useState } from 'react';
import { z } from 'zod';
import { describeError } from '../api/client.ts';
import { useApp } from '../app-context.tsx';
import { ErrorAlert } from './form-parts.tsx';

const DAYS = [
  ['mon', 'Monday'],
  ['tue', 'Tuesday'],
  ['wed', 'Wednesday'],
  ['thu', 'Thursday'],
  ['fri', 'Friday'],
  ['sat', 'Saturday'],
  ['sun', 'Sunday'],
] as const;
type Day = (typeof DAYS)[number][0];

/** `GET/PUT /v1/settings/business-hours` as the page reads it. */
const businessHoursSchema = z.object({
  enabled: z.boolean(),
  timeZone: z.string(),
  schedule: z.array(z.object({ day: z.string(), open: z.string(), close: z.string() })),
  awayMessage: z.string().nullable(),
  awayWindowMinutes: z.number(),
  openNow: z.boolean(),
});

/** One day's row of the form: open or closed, and its hours. */
interface DayHours {
  open: boolean;
  from: string;
  to: string;
}

function daysOf(schedule: { day: string; open: string; close: string }[]): Record<Day, DayHours> {
  const days = {} as Record<Day, DayHours>;
  for (const [day] of DAYS) {
    // The page edits one interval per day (the API takes several; the first is shown).
    const interval = schedule.find((i) => i.day === day);
    days[day] = interval
      ? { open: true, from: interval.open, to: interval.close === '24:00' ? '23:59' : interval.close }
      : { open: false, from: '09:00', to: '17:00' };
  }
  return days;
}

/**
 * Business hours and the away reply (admins): the days and opening times in a time zone, the
 * message customers get outside them, and how often one conversation may get it.
 */
export function BusinessHoursSettings() {
  const { client } = useApp();
  const [loaded, setLoaded] = useState(false);
  const [enabled, setEnabled] = useState(false);
  const [timeZone, setTimeZone] = useState('UTC');
  const [days, setDays] = useState<Record<Day, DayHours>>(() => daysOf([]));
  const [awayMessage, setAwayMessage] = useState('');
  const [windowHours, setWindowHours] = useState(12);
  const [openNow, setOpenNow] = useState<boolean | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [saved, setSaved] = useState(false);

  const show = useCallback((hours: z.infer<typeof businessHoursSchema>) => {
    setEnabled(hours.enabled);
    setTimeZone(hours.timeZone);
    setDays(daysOf(hours.schedule));
    setAwayMessage(hours.awayMessage ?? '');
    setWindowHours(Math.max(1, Math.round(hours.awayWindowMinutes / 60)));
    setOpenNow(hours.openNow);
  }, []);

  useEffect(() => {
    let current = true;
    client
      .request('GET', '/v1/settings/business-hours', businessHoursSchema)
      .then((hours) => {
        if (!current) return;
        show(hours);
        setLoaded(true);
      })
      .catch((e: unknown) => current && setError(describeError(e)));
    return () => {
      current = false;
    };
  }, [client, show]);

  const zones = typeof Intl.supportedValuesOf === 'function' ? Intl.supportedValuesOf('timeZone') : [];
  return (
    <section aria-labelledby="hours-title">
      <h2 id="hours-title">Business hours and away message</h2>
      <ErrorAlert error={error} />
      {openNow !== undefined && <p className="muted">{openNow ? 'Open now' : 'Closed now'}</p>}
      <form
        aria-label="Business hours"
        onSubmit={(e) => {
          e.preventDefault();
          setSaved(false);
          const schedule = DAYS.filter(([day]) => days[day].open).map(([day]) => ({
            day,
            open: days[day].from,
            close: days[day].to === '23:59' ? '24:00' : days[day].to,
          }));
          client
            .request('PUT', '/v1/settings/business-hours', businessHoursSchema, {
              body: {
                enabled,
                timeZone: timeZone.trim(),
                schedule,
                awayMessage: awayMessage.trim() === '' ? null : awayMessage.trim(),
                awayWindowMinutes: windowHours * 60,
              },
            })
            .then((hours) => {
              show(hours);
              setError(undefined);
              setSaved(true);
            })
            .catch((e: unknown) => setError(describeError(e)));
        }}
      >
        <label className="check">
          <input type="checkbox" checked={enabled} onChange={(e) => setEnabled(e.target.checked)} />
          Send the away message outside business hours
        </label>
        <label>
          Time zone
          <input list="time-zones" required value={timeZone} onChange={(e) => setTimeZone(e.target.value)} />
          <datalist id="time-zones">
            {zones.map((zone) => (
              <option key={zone} value={zone} />
            ))}
          </datalist>
        </label>
        <fieldset>
          <legend>Opening hours</legend>
          {DAYS.map(([day, name]) => (
            <fieldset key={day} className="inline-form" aria-label={name}>
              <label className="check">
                <input
                  type="checkbox"
                  checked={days[day].open}
                  onChange={(e) => {
                    const open = e.target.checked;
                    setDays((d) => ({ ...d, [day]: { ...d[day], open } }));
                  }}
                />
                {name}
              </label>
              <label>
                Opens
                <input
                  type="time"
                  disabled={!days[day].open}
                  value={days[day].from}
                  onChange={(e) => {
                    const from = e.target.value;
                    setDays((d) => ({ ...d, [day]: { ...d[day], from } }));
                  }}
                />
              </label>
              <label>
                Closes
                <input
                  type="time"
                  disabled={!days[day].open}
                  value={days[day].to}
                  onChange={(e) => {
                    const to = e.target.value;
                    setDays((d) => ({ ...d, [day]: { ...d[day], to } }));
                  }}
                />
              </label>
            </fieldset>
          ))}
        </fieldset>
        {/* Labelled by id: a label wrapping a textarea would add its text to the name. */}
        <label htmlFor="away-message">Away message</label>
        <textarea
          id="away-message"
          maxLength={4096}
          value={awayMessage}
          onChange={(e) => setAwayMessage(e.target.value)}
        />
        <label>
          At most once per conversation every (hours)
          <input
            type="number"
            min={1}
            max={168}
            required
            value={windowHours}
            onChange={(e) => setWindowHours(Number(e.target.value))}
          />
        </label>
        <button type="submit" disabled={!loaded}>
          Save hours
        </button>
        {saved && <output>Saved</output>}
      </form>
    </section>
  );
}
