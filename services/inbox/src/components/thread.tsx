import { useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from 'react';
import { ApiRequestError, describeError } from '../api/client.ts';
import {
  type Conversation,
  conversationSchema,
  type Message,
  messageSchema,
  pageOf,
} from '../api/schemas.ts';
import { roleAtLeast, useApp } from '../app-context.tsx';
import {
  conversationName,
  previewOf,
  statusAdvances,
  statusTicks,
  timeOf,
  withDaySeparators,
} from '../format.ts';
import { navigate } from '../router.ts';
import { Composer, type Outgoing } from './composer.tsx';
import { GroupEventLine, GroupScope, GroupSender, MentionedText } from './group.tsx';
import {
  InteractiveContent,
  pollTallies,
  STRUCTURED_TYPES,
  TypingIndicator,
  useTyping,
} from './interactive-content.tsx';
import { ThreadLabels } from './labels.tsx';
import { MediaPreview } from './media-preview.tsx';

/** A message being sent: shown at once, replaced by the stored message when the API answers. */
interface Pending {
  /** The Idempotency-Key: generated once, reused by every retry, so a retry never sends twice. */
  key: string;
  outgoing: Outgoing;
  createdAt: string;
  error: string | undefined;
  sending: boolean;
}

function sortMessages(messages: Iterable<Message>): Message[] {
  return [...messages].sort((a, b) =>
    a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : a.id.localeCompare(b.id),
  );
}

const PAGE = 50;

/** One conversation: history (scrolling back), live messages and statuses, the composer. */
export function Thread(props: {
  conversation: Conversation;
  onChanged: (c: Conversation) => void;
  onToggleContact: () => void;
  contactOpen: boolean;
}) {
  const { client, me, data, subscribe } = useApp();
  const conversation = props.conversation;
  const canWork = roleAtLeast(me.role, 'agent');
  const channel = data.sessionList()?.find((s) => s.id === conversation.sessionId)?.channel;
  const [messages, setMessages] = useState(() => new Map<string, Message>());
  const [olderCursor, setOlderCursor] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<string | undefined>();
  const [pending, setPending] = useState<Pending[]>([]);
  const [replyTo, setReplyTo] = useState<Message | undefined>();
  const [busy, setBusy] = useState(false);
  const scroller = useRef<HTMLOListElement>(null);
  const stickToBottom = useRef(true);
  const keepOffset = useRef<number | undefined>(undefined);
  const onChanged = useRef(props.onChanged);
  onChanged.current = props.onChanged;
  const contact = conversation.contact ? undefined : (data.contact(conversation.contactId) ?? undefined);
  const team = data.team();

  const insert = useCallback((list: Message[]) => {
    setMessages((current) => {
      const next = new Map(current);
      for (const m of list) {
        const old = next.get(m.id);
        // Statuses only move forward: a slow fetch must not undo a newer event.
        if (old && old.status !== m.status && !statusAdvances(old.status, m.status)) {
          next.set(m.id, {
            ...m,
            status: old.status,
            failureReason: old.failureReason ?? m.failureReason ?? null,
          });
        } else next.set(m.id, { ...old, ...m, failureReason: m.failureReason ?? old?.failureReason ?? null });
      }
      return next;
    });
  }, []);

  // The newest page first; then scrolled to the bottom.
  useEffect(() => {
    let cancelled = false;
    client
      .request('GET', `/v1/conversations/${conversation.id}/messages?limit=${PAGE}`, pageOf(messageSchema))
      .then((page) => {
        if (cancelled) return;
        insert(page.items);
        setOlderCursor(page.nextCursor);
        setLoading(false);
        // The history does not carry failure reasons; the message itself does.
        for (const m of page.items) {
          if (m.status === 'failed')
            void client.request('GET', `/v1/messages/${m.id}`, messageSchema).then((full) => insert([full]));
        }
      })
      .catch((e) => {
        if (!cancelled) {
          setError(describeError(e));
          setLoading(false);
        }
      });
    return () => {
      cancelled = true;
    };
  }, [client, conversation.id, insert]);

  const loadOlder = useCallback(async () => {
    if (!olderCursor || loading) return;
    setLoading(true);
    const el = scroller.current;
    keepOffset.current = el ? el.scrollHeight - el.scrollTop : undefined;
    try {
      const page = await client.request(
        'GET',
        `/v1/conversations/${conversation.id}/messages?limit=${PAGE}&cursor=${encodeURIComponent(olderCursor)}`,
        pageOf(messageSchema),
      );
      insert(page.items);
      setOlderCursor(page.nextCursor);
    } catch (e) {
      setError(describeError(e));
    } finally {
      setLoading(false);
    }
  }, [client, conversation.id, olderCursor, loading, insert]);

  // Marks read (agents) or refetches the conversation after activity; one at a time, coalesced.
  const syncTimer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const syncConversation = useCallback(
    (markRead: boolean) => {
      clearTimeout(syncTimer.current);
      syncTimer.current = setTimeout(() => {
        const request =
          markRead && canWork
            ? client.request('POST', `/v1/conversations/${conversation.id}/read`, conversationSchema)
            : client.request('GET', `/v1/conversations/${conversation.id}`, conversationSchema);
        request.then((c) => onChanged.current(c)).catch(() => undefined);
      }, 150);
    },
    [client, conversation.id, canWork],
  );
  useEffect(() => () => clearTimeout(syncTimer.current), []);

  const unread = conversation.unreadCount > 0;
  useEffect(() => {
    if (unread && canWork) syncConversation(true);
  }, [unread, canWork, syncConversation]);

  // Live: new messages of this conversation, and status changes.
  useEffect(
    () =>
      subscribe((event) => {
        if (event.type === 'message.created' && event.data.conversationId === conversation.id) {
          // Shown from the event when it carries the message; fetched otherwise.
          if (event.data.message) insert([event.data.message]);
          else
            data
              .message(event.data.messageId)
              .then((m) => insert([m]))
              .catch(() => undefined);
          syncConversation(event.data.direction === 'inbound');
        } else if (event.type === 'message.updated' && event.data.conversationId === conversation.id) {
          const { messageId, status, reason, message: carried } = event.data;
          // Carried (its content changed, e.g. its file is stored now): merged as a fetch would be.
          if (carried) {
            insert([carried]);
            return;
          }
          setMessages((current) => {
            const old = current.get(messageId);
            if (!old) {
              // Not loaded yet (the created event's fetch is in flight): fetch it with its status.
              data
                .message(messageId)
                .then((m) => insert([m]))
                .catch(() => undefined);
              return current;
            }
            if (!statusAdvances(old.status, status)) return current;
            const next = new Map(current);
            next.set(messageId, { ...old, status, failureReason: reason ?? old.failureReason ?? null });
            return next;
          });
        } else if (event.type === 'conversation.updated' && event.data.conversationId === conversation.id) {
          syncConversation(false);
        }
      }),
    [subscribe, conversation.id, data, insert, syncConversation],
  );

  const sorted = useMemo(() => sortMessages(messages.values()), [messages]);
  const reactions = useMemo(() => {
    const byTarget = new Map<string, string[]>();
    for (const m of sorted) {
      if (m.type !== 'reaction' || !m.replyToMessageId || !m.reaction) continue;
      byTarget.set(m.replyToMessageId, [...(byTarget.get(m.replyToMessageId) ?? []), m.reaction]);
    }
    return byTarget;
  }, [sorted]);
  const shown = useMemo(() => sorted.filter((m) => m.type !== 'reaction'), [sorted]);
  const tallies = useMemo(() => pollTallies(sorted), [sorted]);
  const typing = useTyping(conversation.id);
  const rows = useMemo(() => withDaySeparators(shown), [shown]);

  // Stay at the bottom as messages arrive (unless the agent scrolled up); keep the place when
  // older messages are prepended.
  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el) return;
    if (keepOffset.current !== undefined) {
      el.scrollTop = el.scrollHeight - keepOffset.current;
      keepOffset.current = undefined;
    } else if (stickToBottom.current) el.scrollTop = el.scrollHeight;
  });

  const deliver = useCallback(
    async (p: Pending) => {
      setPending((list) =>
        list.map((x) => (x.key === p.key ? { ...x, sending: true, error: undefined } : x)),
      );
      try {
        let message: Message;
        if (p.outgoing.kind === 'file') {
          const form = new FormData();
          form.set('conversationId', conversation.id);
          if (p.outgoing.caption) form.set('caption', p.outgoing.caption);
          form.set('file', p.outgoing.file, p.outgoing.file.name);
          message = await client.request('POST', '/v1/messages/media', messageSchema, {
            headers: { 'idempotency-key': p.key },
            form,
          });
        } else {
          const body =
            p.outgoing.kind === 'poll'
              ? { conversationId: conversation.id, type: 'poll', poll: p.outgoing.poll }
              : p.outgoing.kind === 'interactive'
                ? {
                    conversationId: conversation.id,
                    type: 'interactive',
                    interactive: p.outgoing.interactive,
                  }
                : p.outgoing.kind === 'text'
                  ? {
                      conversationId: conversation.id,
                      text: p.outgoing.text,
                      ...(p.outgoing.replyTo ? { replyToMessageId: p.outgoing.replyTo.id } : {}),
                    }
                  : {
                      conversationId: conversation.id,
                      type: 'template',
                      name: p.outgoing.template.name,
                      language: p.outgoing.template.language,
                      components: Array.isArray(p.outgoing.template.components)
                        ? p.outgoing.template.components
                        : [],
                    };
          message = await client.request('POST', '/v1/messages', messageSchema, {
            headers: { 'idempotency-key': p.key },
            body,
          });
        }
        stickToBottom.current = true;
        insert([message]);
        data.notePreview(message);
        setPending((list) => list.filter((x) => x.key !== p.key));
        syncConversation(false);
      } catch (e) {
        const reason =
          e instanceof ApiRequestError && e.status === 404 && p.outgoing.kind === 'file'
            ? 'this server does not accept attachments yet'
            : describeError(e);
        setPending((list) =>
          list.map((x) => (x.key === p.key ? { ...x, sending: false, error: reason } : x)),
        );
      }
    },
    [client, conversation.id, data, insert, syncConversation],
  );

  const send = (outgoing: Outgoing) => {
    const p: Pending = {
      key: crypto.randomUUID(),
      outgoing,
      createdAt: new Date().toISOString(),
      error: undefined,
      sending: true,
    };
    stickToBottom.current = true;
    setPending((list) => [...list, p]);
    setReplyTo(undefined);
    void deliver(p);
  };

  const act = async (path: string, body?: unknown) => {
    setBusy(true);
    try {
      const c = await client.request(
        'POST',
        `/v1/conversations/${conversation.id}/${path}`,
        conversationSchema,
        {
          ...(body !== undefined ? { body } : {}),
        },
      );
      props.onChanged(c);
    } catch (e) {
      setError(describeError(e));
    } finally {
      setBusy(false);
    }
  };

  const name = conversationName(conversation, contact);
  const byId = messages;
  return (
    <div className="thread">
      <header className="thread-head">
        <button
          type="button"
          className="back"
          aria-label="Back to conversations"
          onClick={() => navigate('/')}
        >
          ←
        </button>
        <h2>{name}</h2>
        <span className={`status-pill ${conversation.status}`}>
          {conversation.status === 'open' ? 'Open' : 'Resolved'}
        </span>
        <div className="thread-actions">
          {canWork && (
            <label className="assign">
              <span className="visually-hidden">Assignee</span>
              <select
                aria-label="Assignee"
                disabled={busy}
                value={conversation.assigneeId ?? ''}
                onChange={(e) => void act('assign', { assigneeId: e.target.value || null })}
              >
                <option value="">Unassigned</option>
                {(team ?? []).map((m) => (
                  <option key={m.userId} value={m.userId}>
                    {m.userId === me.id ? `${m.displayName} (me)` : m.displayName}
                  </option>
                ))}
              </select>
            </label>
          )}
          {canWork &&
            (conversation.status === 'open' ? (
              <button type="button" disabled={busy} onClick={() => void act('resolve')}>
                Resolve
              </button>
            ) : (
              <button type="button" disabled={busy} onClick={() => void act('reopen')}>
                Reopen
              </button>
            ))}
          <button type="button" aria-pressed={props.contactOpen} onClick={props.onToggleContact}>
            Contact
          </button>
        </div>
      </header>
      <ThreadLabels conversation={conversation} onChanged={props.onChanged} />
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      <GroupScope contactId={conversation.contactId}>
        <ol
          className="messages"
          aria-label={`Messages with ${name}`}
          aria-busy={loading}
          ref={scroller}
          onScroll={(e) => {
            const el = e.currentTarget;
            stickToBottom.current = el.scrollTop + el.clientHeight >= el.scrollHeight - 40;
            if (el.scrollTop < 80) void loadOlder();
          }}
        >
          {olderCursor && (
            <li className="older">
              <button type="button" className="link" onClick={() => void loadOlder()} disabled={loading}>
                Load older messages
              </button>
            </li>
          )}
          {rows.map((row) =>
            row.kind === 'day' ? (
              <li key={`day-${row.key}`} className="day">
                <span>{row.label}</span>
              </li>
            ) : (
              <Bubble
                key={row.message.id}
                message={row.message}
                quoted={row.message.replyToMessageId ? byId.get(row.message.replyToMessageId) : undefined}
                reactions={reactions.get(row.message.id)}
                tally={tallies.get(row.message.id)}
                onReply={canWork ? () => setReplyTo(row.message) : undefined}
              />
            ),
          )}
          {pending.map((p) => (
            <li key={p.key} className="bubble outbound pending" aria-label="Message being sent">
              {p.outgoing.kind === 'text' && p.outgoing.replyTo && (
                <blockquote className="quote">{previewOf(p.outgoing.replyTo)}</blockquote>
              )}
              <p className="body">
                {p.outgoing.kind === 'text'
                  ? p.outgoing.text
                  : p.outgoing.kind === 'template'
                    ? `Template: ${p.outgoing.template.name}`
                    : p.outgoing.kind === 'poll'
                      ? `Poll: ${p.outgoing.poll.name}`
                      : p.outgoing.kind === 'interactive'
                        ? `Buttons: ${p.outgoing.interactive.body}`
                        : `File: ${p.outgoing.file.name}`}
              </p>
              <span className="meta">
                {p.error ? (
                  <>
                    <span className="failed" role="alert">
                      Not sent: {p.error}
                    </span>{' '}
                    <button type="button" className="link" onClick={() => void deliver(p)}>
                      Retry
                    </button>
                  </>
                ) : (
                  <span className="ticks" role="img" aria-label="Status: sending">
                    🕓
                  </span>
                )}
              </span>
            </li>
          ))}
        </ol>
        <TypingIndicator state={typing} />
      </GroupScope>
      {canWork ? (
        <Composer
          conversationId={conversation.id}
          replyTo={replyTo}
          onCancelReply={() => setReplyTo(undefined)}
          onSend={send}
          polls={channel === 'baileys'}
          interactive={channel === 'cloud-api'}
        />
      ) : (
        <p className="readonly">Viewers cannot reply.</p>
      )}
    </div>
  );
}

function Bubble(props: {
  message: Message;
  quoted: Message | undefined;
  reactions: string[] | undefined;
  tally?: Map<string, number> | undefined;
  onReply: (() => void) | undefined;
}) {
  const m = props.message;
  // A missed or declined WhatsApp call: a system line of the thread, like the day separators.
  if (m.type === 'call')
    return (
      <li className="day" data-message={m.id} role="note" aria-label="Call">
        {m.body ?? 'Call'} · <time dateTime={m.createdAt}>{timeOf(m.createdAt)}</time>
      </li>
    );
  if (m.type === 'group_event') return <GroupEventLine message={m} />;
  const ticks = statusTicks(m.status);
  const media = ['image', 'video', 'audio', 'document', 'sticker'].includes(m.type);
  return (
    <li className={`bubble ${m.direction} status-${m.status}`} data-message={m.id}>
      {m.replyToMessageId && (
        <blockquote className="quote">
          {props.quoted ? previewOf(props.quoted) : 'Reply to an earlier message'}
        </blockquote>
      )}
      <GroupSender message={m} />
      {media && <MediaPreview message={m} />}
      {m.type === 'template' && <p className="tag">Template</p>}
      {m.automatedBy && <p className="tag">Automated reply ({m.automatedBy})</p>}
      {STRUCTURED_TYPES.has(m.type) ? (
        <InteractiveContent message={m} tally={props.tally} />
      ) : (
        <>
          {m.body && (
            <p className="body">
              <MentionedText message={m} />
            </p>
          )}
          {!m.body && !media && m.type !== 'text' && <p className="body muted">{previewOf(m)}</p>}
        </>
      )}
      {props.reactions && (
        <span className="reactions" role="img" aria-label={`Reactions: ${props.reactions.join(' ')}`}>
          {props.reactions.join(' ')}
        </span>
      )}
      <span className="meta">
        <time dateTime={m.createdAt}>{timeOf(m.createdAt)}</time>
        {m.direction === 'outbound' && (
          <span className={`ticks ticks-${m.status}`} role="img" aria-label={`Status: ${ticks.label}`}>
            {ticks.symbol}
          </span>
        )}
        {m.status === 'failed' && (
          <span className="failed">{m.failureReason ? `Failed: ${m.failureReason}` : 'Failed'}</span>
        )}
        {props.onReply && (
          <button
            type="button"
            className="link reply"
            onClick={props.onReply}
            aria-label="Reply to this message"
          >
            Reply
          </button>
        )}
      </span>
    </li>
  );
}
