import { describe, expect, it } from 'vitest';
import { dayLabel, previewOf, statusAdvances, statusTicks, withDaySeparators } from './format.ts';

const now = new Date(2026, 11, 2, 15, 0);

describe('format', () => {
  it('puts a day separator before the first message of each local day', () => {
    const at = (d: number, h: number) => new Date(2026, 11, d, h).toISOString();
    const rows = withDaySeparators(
      [{ createdAt: at(1, 9) }, { createdAt: at(1, 23) }, { createdAt: at(2, 0) }, { createdAt: at(2, 14) }],
      now,
    );
    expect(rows.map((r) => (r.kind === 'day' ? r.label : 'm'))).toEqual([
      'Yesterday',
      'm',
      'm',
      'Today',
      'm',
      'm',
    ]);
    expect(dayLabel(new Date(2026, 10, 20), now)).not.toMatch(/Today|Yesterday/);
  });

  it('only moves statuses forward (a late "delivered" never undoes "read")', () => {
    expect(statusAdvances('sent', 'read')).toBe(true);
    expect(statusAdvances('read', 'delivered')).toBe(false);
    expect(statusAdvances('queued', 'failed')).toBe(true);
    expect(statusTicks('read').label).toBe('read');
  });

  it('previews text, media and the agent side', () => {
    const base = { id: 'x', status: 'read' as const, createdAt: now.toISOString() };
    expect(previewOf({ ...base, direction: 'outbound', type: 'text', body: 'hi' })).toBe('You: hi');
    expect(previewOf({ ...base, direction: 'inbound', type: 'image', body: 'look' })).toBe('📷 Photo: look');
    expect(previewOf({ ...base, direction: 'inbound', type: 'audio', body: null })).toBe('🎤 Audio');
    expect(previewOf(null)).toBe('');
  });
});
