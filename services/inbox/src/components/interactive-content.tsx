import { useEffect, useState } from 'react';
import { z } from 'zod';
import type { Message } from '../api/schemas.ts';
import { useApp } from '../app-context.tsx';

/**
 * Interactive messages, polls and their answers in the thread: the buttons, list rows or link an
 * interactive message offered; which button or row the customer picked; a poll with its options
 * and the votes on each; which options a vote selected. Reads the message's `interactive`
 * (packages/messaging/src/outbound/interactive.ts describes it).
 */

/** The message types this component renders. */
export const STRUCTURED_TYPES = new Set(['interactive', 'interactive_reply', 'poll', 'poll_vote']);

const interactiveShape = z.object({
  kind: z.enum(['button', 'list', 'cta_url']),
  header: z.string().optional(),
  body: z.string(),
  footer: z.string().optional(),
  buttons: z.array(z.object({ id: z.string(), title: z.string() })).optional(),
  button: z.string().optional(),
  sections: z
    .array(
      z.object({
        title: z.string().optional(),
        rows: z.array(z.object({ id: z.string(), title: z.string(), description: z.string().optional() })),
      }),
    )
    .optional(),
  displayText: z.string().optional(),
  url: z.string().optional(),
});
const replyShape = z.object({
  kind: z.enum(['button', 'list']),
  id: z.string(),
  title: z.string(),
  description: z.string().optional(),
});
const pollShape = z.object({ name: z.string(), options: z.array(z.string()), selectableCount: z.number() });
const voteShape = z.object({ pollMessageId: z.string(), selectedOptions: z.array(z.string()) });

/**
 * The votes on each poll of `messages`, by poll message id: a voter's latest vote replaces their
 * earlier one (WhatsApp sends the whole selection each time). In a direct chat the voters are the
 * customer (inbound votes) and this number (outbound ones, voted on the phone).
 */
export function pollTallies(messages: Message[]): Map<string, Map<string, number>> {
  const latest = new Map<string, { at: string; options: string[] }>();
  for (const m of messages) {
    if (m.type !== 'poll_vote' || !m.replyToMessageId) continue;
    const vote = voteShape.safeParse(m.interactive);
    if (!vote.success) continue;
    const key = `${m.replyToMessageId}:${m.direction}`;
    const seen = latest.get(key);
    if (!seen || seen.at <= m.createdAt)
      latest.set(key, { at: m.createdAt, options: vote.data.selectedOptions });
  }
  const tallies = new Map<string, Map<string, number>>();
  for (const [key, vote] of latest) {
    const pollId = key.slice(0, key.lastIndexOf(':'));
    const counts = tallies.get(pollId) ?? new Map<string, number>();
    for (const option of vote.options) counts.set(option, (counts.get(option) ?? 0) + 1);
    tallies.set(pollId, counts);
  }
  return tallies;
}

/** The content of an interactive, interactive_reply, poll or poll_vote message. */
export function InteractiveContent(props: { message: Message; tally: Map<string, number> | undefined }) {
  const m = props.message;
  if (m.type === 'interactive') {
    const parsed = interactiveShape.safeParse(m.interactive);
    if (!parsed.success) return <p className="body">{m.body}</p>;
    const i = parsed.data;
    return (
      <section className="interactive" aria-label="Interactive message">
        {i.header && <p className="interactive-header">{i.header}</p>}
        <p className="body">{i.body}</p>
        {i.footer && <p className="interactive-footer">{i.footer}</p>}
        {i.kind === 'button' && (
          <ul className="interactive-options" aria-label="Reply buttons">
            {(i.buttons ?? []).map((b) => (
              <li key={b.id} className="option-chip">
                {b.title}
              </li>
            ))}
          </ul>
        )}
        {i.kind === 'list' && (
          <details className="interactive-list">
            <summary>☰ {i.button}</summary>
            {(i.sections ?? []).map((s, index) => (
              <section key={s.title ?? index} aria-label={s.title ?? 'List'}>
                {s.title && <h4>{s.title}</h4>}
                <ul>
                  {s.rows.map((r) => (
                    <li key={r.id}>
                      <strong>{r.title}</strong>
                      {r.description && <span className="muted"> · {r.description}</span>}
                    </li>
                  ))}
                </ul>
              </section>
            ))}
          </details>
        )}
        {i.kind === 'cta_url' && i.url && (
          <a className="option-chip" href={i.url} target="_blank" rel="noopener noreferrer">
            🔗 {i.displayText}
          </a>
        )}
      </section>
    );
  }
  if (m.type === 'interactive_reply') {
    const parsed = replyShape.safeParse(m.interactive);
    if (!parsed.success) return <p className="body">{m.body}</p>;
    const r = parsed.data;
    const label = r.kind === 'button' ? 'Tapped button' : 'Picked from the list';
    return (
      <section className="interactive-reply" aria-label={`${label}: ${r.title}`}>
        <p className="tag">{label}</p>
        <p className="body">
          <strong>{r.title}</strong>
          {r.description && <span className="muted"> · {r.description}</span>}
        </p>
      </section>
    );
  }
  if (m.type === 'poll') {
    const parsed = pollShape.safeParse(m.interactive);
    if (!parsed.success) return <p className="body">{m.body}</p>;
    const p = parsed.data;
    return (
      <section className="poll" aria-label={`Poll: ${p.name}`}>
        <p className="tag">
          Poll ·{' '}
          {p.selectableCount === 1
            ? 'one choice'
            : p.selectableCount === 0
              ? 'any number'
              : `up to ${p.selectableCount}`}
        </p>
        <p className="body">
          <strong>{p.name}</strong>
        </p>
        <ul className="poll-options">
          {p.options.map((option) => {
            const votes = props.tally?.get(option) ?? 0;
            return (
              <li key={option} aria-label={`${option}: ${votes} vote${votes === 1 ? '' : 's'}`}>
                <span>{option}</span> <span className="poll-count">{votes}</span>
              </li>
            );
          })}
        </ul>
      </section>
    );
  }
  if (m.type === 'poll_vote') {
    const parsed = voteShape.safeParse(m.interactive);
    const options = parsed.success ? parsed.data.selectedOptions : [];
    return (
      <p className="body muted" role="note" aria-label="Poll vote">
        {options.length > 0 ? `Voted: ${options.join(', ')}` : 'Withdrew their vote'}
      </p>
    );
  }
  return null;
}

/** How long a "typing…" shows without a newer presence (WhatsApp repeats `composing` about every 10 s). */
export const TYPING_TIMEOUT_MS = 25_000;

/**
 * Whether the customer of `conversationId` is typing (or recording) now: from the realtime
 * `conversation.typing` events, cleared by `paused`, by an inbound message, or after
 * {@link TYPING_TIMEOUT_MS}.
 */
export function useTyping(conversationId: string): 'typing' | 'recording' | undefined {
  const { subscribe } = useApp();
  const [state, setState] = useState<'typing' | 'recording' | undefined>();
  useEffect(() => {
    setState(undefined);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const unsubscribe = subscribe((event) => {
      if (event.type === 'conversation.typing' && event.data.conversationId === conversationId) {
        clearTimeout(timer);
        if (event.data.state === 'paused') setState(undefined);
        else {
          setState(event.data.state);
          timer = setTimeout(() => setState(undefined), TYPING_TIMEOUT_MS);
        }
      } else if (
        event.type === 'message.created' &&
        event.data.conversationId === conversationId &&
        event.data.direction === 'inbound'
      ) {
        clearTimeout(timer);
        setState(undefined);
      }
    });
    return () => {
      clearTimeout(timer);
      unsubscribe();
    };
  }, [subscribe, conversationId]);
  return state;
}

/** The "typing…" line under the messages. */
export function TypingIndicator(props: { state: 'typing' | 'recording' | undefined }) {
  if (!props.state) return null;
  return (
    <p className="typing" role="status" aria-live="polite">
      {props.state === 'recording' ? 'recording audio…' : 'typing…'}
    </p>
  );
}
