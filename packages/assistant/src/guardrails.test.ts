// The pure parts of the guardrails, the prompt window and the price table.
import { describe, expect, it } from 'vitest';
import {
  asksForHuman,
  blockedTopicOf,
  HANDOFF_SENTINEL,
  modelHandsOff,
  redactContactDetails,
} from './guardrails.ts';
import { estimateCostMicros, priceOf } from './prices.ts';
import { buildPrompt } from './prompt.ts';

describe('guardrails', () => {
  it('redacts e-mail addresses and phone numbers in the forms people write them', () => {
    expect(redactContactDetails('Mail me at ana.lopez+shop@example.co.uk or call +34 612 34 56 78')).toBe(
      'Mail me at [email] or call [phone]',
    );
    expect(redactContactDetails('(555) 123-4567, order 12 items')).toBe('[phone], order 12 items');
  });

  it('finds blocked topics and hand-off requests as whole words, accents and case ignored', () => {
    expect(blockedTopicOf('Can you give me MEDICAL advice?', ['politics', 'medical advice'])).toBe(
      'medical advice',
    );
    expect(blockedTopicOf('the politician said', ['politics'])).toBeNull();
    expect(blockedTopicOf('¿Qué opinas de la política?', ['politica'])).toBe('politica');
    expect(asksForHuman('Can I talk to an AGENT please', ['agent'])).toBe(true);
    expect(asksForHuman('the agency called', ['agent'])).toBe(false);
  });

  it('reads the sentinel or an empty answer as the model handing off', () => {
    expect(modelHandsOff(HANDOFF_SENTINEL)).toBe(true);
    expect(modelHandsOff('  ')).toBe(true);
    expect(modelHandsOff('We open at nine.')).toBe(false);
  });
});

describe('buildPrompt', () => {
  const history = [
    { direction: 'inbound' as const, body: 'a'.repeat(400) },
    { direction: 'outbound' as const, body: 'b'.repeat(40) },
    { direction: 'inbound' as const, body: 'my mail is x@y.com' },
  ];
  it('keeps the latest messages within the message and token caps, oldest first', () => {
    const two = buildPrompt({
      systemPrompt: 'Be brief.',
      knowledge: 'We open at nine.',
      history,
      maxMessages: 2,
      maxTokens: 10_000,
      redact: false,
    });
    expect(two.messages.map((m) => m.role)).toEqual(['system', 'assistant', 'user']);
    expect(two.messages[0]?.content).toContain('We open at nine.');
    expect(two.messages[0]?.content).toContain(HANDOFF_SENTINEL);
    const tight = buildPrompt({
      systemPrompt: null,
      knowledge: null,
      history,
      maxMessages: 10,
      maxTokens: 80,
      redact: true,
    });
    expect(tight.messages.slice(1)).toEqual([
      { role: 'assistant', content: 'b'.repeat(40) },
      { role: 'user', content: 'my mail is [email]' },
    ]);
  });
});

describe('prices', () => {
  it('prices a dated snapshot by its family, and knows no price for unknown models', () => {
    expect(priceOf('gpt-4o-mini-2024-07-18')?.inputPerMillion).toBe(0.15);
    // 1,000 in × $0.15/M + 500 out × $0.60/M = 150 + 300 micro-dollars.
    expect(estimateCostMicros('gpt-4o-mini', 1_000, 500)).toBe(450);
    expect(estimateCostMicros('llama3', 1_000, 500)).toBeNull();
  });
});
