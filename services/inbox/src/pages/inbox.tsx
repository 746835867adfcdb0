import { useCallback, useEffect, useRef, useState } from 'react';
import { describeError } from '../api/client.ts';
import { type Conversation, conversationSchema, pageOf } from '../api/schemas.ts';
import { useApp } from '../app-context.tsx';
import { ContactPanel } from '../components/contact-panel.tsx';
import { GroupMarker } from '../components/group.tsx';
import { BulkLabelBar, LabelChips, LabelFilter, labelsOf, useLabels } from '../components/labels.tsx';
import { Thread } from '../components/thread.tsx';
import { conversationName, previewOf, timeOf } from '../format.ts';
import { useInboxData } from '../inbox-data.ts';
import { navigate } from '../router.ts';

/** The list's views (the API's filters). */
const VIEWS = [
  { id: 'open', label: 'Open' },
  { id: 'mine', label: 'Mine' },
  { id: 'unassigned', label: 'Unassigned' },
  { id: 'resolved', label: 'Resolved' },
  { id: 'all', label: 'All' },
] as const;
type View = (typeof VIEWS)[number]['id'];

interface Filters {
  view: View;
  sessionId: string;
  search: string;
  /** A label id ('' for every label). */
  label: string;
}

function listQuery(filters: Filters, cursor?: string): string {
  const q = new URLSearchParams({ limit: '50' });
  if (filters.view === 'open' || filters.view === 'mine' || filters.view === 'unassigned')
    q.set('status', 'open');
  if (filters.view === 'resolved') q.set('status', 'resolved');
  if (filters.view === 'mine') q.set('assignee', 'mine');
  if (filters.view === 'unassigned') q.set('assignee', 'unassigned');
  if (filters.sessionId) q.set('sessionId', filters.sessionId);
  if (filters.search.trim()) q.set('search', filters.search.trim());
  if (filters.label) q.set('label', filters.label);
  if (cursor) q.set('cursor', cursor);
  return q.toString();
}

/** Whether `c` belongs in the list under `filters` (search is the API's to decide). */
function matches(c: Conversation, filters: Filters, meId: string): boolean {
  if (filters.sessionId && c.sessionId !== filters.sessionId) return false;
  if (filters.label && !labelsOf(c).some((l) => l.id === filters.label)) return false;
  switch (filters.view) {
    case 'open':
      return c.status === 'open';
    case 'mine':
      return c.status === 'open' && c.assigneeId === meId;
    case 'unassigned':
      return c.status === 'open' && c.assigneeId === null;
    case 'resolved':
      return c.status === 'resolved';
    case 'all':
      return true;
  }
}

function byRecency(a: Conversation, b: Conversation): number {
  return a.lastMessageAt < b.lastMessageAt
    ? 1
    : a.lastMessageAt > b.lastMessageAt
      ? -1
      : b.id.localeCompare(a.id);
}

/** The conversation list under `filters`: first page, more pages, and live updates. */
function useConversations(filters: Filters, openId: string | undefined) {
  const { client, me, subscribe, onResync, data } = useApp();
  const [items, setItems] = useState<Conversation[]>([]);
  const [nextCursor, setNextCursor] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<string | undefined>();
  const generation = useRef(0);
  const filtersRef = useRef(filters);
  filtersRef.current = filters;
  const openRef = useRef(openId);
  openRef.current = openId;

  const reload = useCallback(
    async (current?: Filters) => {
      const mine = ++generation.current;
      setLoading(true);
      try {
        const page = await client.request(
          'GET',
          `/v1/conversations?${listQuery(current ?? filtersRef.current)}`,
          pageOf(conversationSchema),
        );
        if (mine !== generation.current) return;
        setItems(page.items);
        setNextCursor(page.nextCursor);
        setError(undefined);
      } catch (e) {
        if (mine === generation.current) setError(describeError(e));
      } finally {
        if (mine === generation.current) setLoading(false);
      }
    },
    [client],
  );

  const loadMore = useCallback(async () => {
    if (!nextCursor || loading) return;
    const mine = generation.current;
    setLoading(true);
    try {
      const page = await client.request(
        'GET',
        `/v1/conversations?${listQuery(filtersRef.current, nextCursor)}`,
        pageOf(conversationSchema),
      );
      if (mine !== generation.current) return;
      setItems((current) => {
        const seen = new Set(current.map((c) => c.id));
        return [...current, ...page.items.filter((c) => !seen.has(c.id))];
      });
      setNextCursor(page.nextCursor);
    } catch (e) {
      setError(describeError(e));
    } finally {
      if (mine === generation.current) setLoading(false);
    }
  }, [client, nextCursor, loading]);

  /** Puts the latest state of one conversation in the list (or takes it out). */
  const upsert = useCallback(
    (c: Conversation) => {
      setItems((current) => {
        const rest = current.filter((x) => x.id !== c.id);
        if (!matches(c, filtersRef.current, me.id) && c.id !== openRef.current) return rest;
        if (!current.some((x) => x.id === c.id) && filtersRef.current.search.trim()) return current;
        return [...rest, c].sort(byRecency);
      });
    },
    [me.id],
  );

  useEffect(() => {
    void reload(filters);
  }, [reload, filters]);

  useEffect(() => onResync(() => void reload()), [onResync, reload]);

  useEffect(() => {
    let searchTimer: ReturnType<typeof setTimeout> | undefined;
    const unsubscribe = subscribe((event) => {
      if (event.type !== 'message.created' && event.type !== 'conversation.updated') return;
      const id = event.data.conversationId;
      if (event.type === 'message.created') void data.message(event.data.messageId).catch(() => undefined);
      // The open thread keeps its own conversation current (it marks it read first).
      if (id === openRef.current) return;
      if (filtersRef.current.search.trim()) {
        clearTimeout(searchTimer);
        searchTimer = setTimeout(() => void reload(), 300);
        return;
      }
      client
        .request('GET', `/v1/conversations/${id}`, conversationSchema)
        .then(upsert)
        .catch(() => undefined);
    });
    return () => {
      clearTimeout(searchTimer);
      unsubscribe();
    };
  }, [subscribe, client, data, upsert, reload]);

  return { items, nextCursor, loading, error, loadMore, upsert, reload };
}

/** The inbox screen: the list, the open thread, the contact panel. */
export function InboxPage(props: { conversationId: string | undefined }) {
  const { data } = useApp();
  useInboxData(data);
  const [filters, setFilters] = useState<Filters>({ view: 'open', sessionId: '', search: '', label: '' });
  const labels = useLabels();
  // Multi-select for bulk labels: null when off.
  const [selected, setSelected] = useState<Set<string> | null>(null);
  const [searchText, setSearchText] = useState('');
  const [showContact, setShowContact] = useState(false);
  const list = useConversations(filters, props.conversationId);
  const [open, setOpen] = useState<Conversation | undefined>();
  const { client } = useApp();
  const sessions = data.sessionList();

  // Search as you type, without a request per keystroke.
  useEffect(() => {
    const timer = setTimeout(
      () => setFilters((f) => (f.search === searchText ? f : { ...f, search: searchText })),
      250,
    );
    return () => clearTimeout(timer);
  }, [searchText]);

  // The open conversation: from the list when it is there, else fetched (a deep link, another view).
  useEffect(() => {
    if (!props.conversationId) {
      setOpen(undefined);
      return;
    }
    const inList = list.items.find((c) => c.id === props.conversationId);
    if (inList) {
      setOpen(inList);
      return;
    }
    let cancelled = false;
    client
      .request('GET', `/v1/conversations/${props.conversationId}`, conversationSchema)
      .then((c) => !cancelled && setOpen(c))
      .catch(() => !cancelled && navigate('/', { replace: true }));
    return () => {
      cancelled = true;
    };
  }, [props.conversationId, list.items, client]);

  // Esc goes back to the list (from anywhere but a text field, where it only leaves the field).
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key !== 'Escape') return;
      const target = e.target as HTMLElement | null;
      if (
        target &&
        (target.tagName === 'INPUT' || target.tagName === 'TEXTAREA' || target.tagName === 'SELECT')
      ) {
        target.blur();
        return;
      }
      if (showContact) setShowContact(false);
      else if (props.conversationId) {
        navigate('/');
        requestAnimationFrame(() =>
          document.querySelector<HTMLElement>(`[data-conversation="${props.conversationId}"]`)?.focus(),
        );
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [props.conversationId, showContact]);

  const onListKey = (e: React.KeyboardEvent<HTMLUListElement>) => {
    const keys = { j: 1, ArrowDown: 1, k: -1, ArrowUp: -1 } as Record<string, number>;
    const step = keys[e.key];
    if (!step) return;
    e.preventDefault();
    const links = [...e.currentTarget.querySelectorAll<HTMLAnchorElement>('a[data-conversation]')];
    const at = links.indexOf(document.activeElement as HTMLAnchorElement);
    const next = links[Math.max(0, Math.min(links.length - 1, at < 0 ? 0 : at + step))];
    next?.focus();
    if (next && links.indexOf(next) >= links.length - 3) void list.loadMore();
  };

  const active = props.conversationId;
  return (
    <div className={`inbox${active ? ' has-thread' : ''}${showContact ? ' has-contact' : ''}`}>
      <section className="list-pane" aria-label="Conversation list">
        <div className="list-tools">
          <input
            type="search"
            aria-label="Search conversations"
            placeholder="Search name or number"
            value={searchText}
            onChange={(e) => setSearchText(e.target.value)}
          />
          <div className="views" role="tablist" aria-label="Views">
            {VIEWS.map((v) => (
              <button
                key={v.id}
                type="button"
                role="tab"
                aria-selected={filters.view === v.id}
                onClick={() => setFilters((f) => ({ ...f, view: v.id }))}
              >
                {v.label}
              </button>
            ))}
          </div>
          {sessions && sessions.length > 1 && (
            <select
              aria-label="Session"
              value={filters.sessionId}
              onChange={(e) => setFilters((f) => ({ ...f, sessionId: e.target.value }))}
            >
              <option value="">All sessions</option>
              {sessions.map((s) => (
                <option key={s.id} value={s.id}>
                  {s.name}
                </option>
              ))}
            </select>
          )}
          <LabelFilter
            labels={labels.labels}
            value={filters.label}
            onChange={(label) => setFilters((f) => ({ ...f, label }))}
          />
          <button
            type="button"
            aria-pressed={selected !== null}
            onClick={() => setSelected((s) => (s ? null : new Set()))}
          >
            Select
          </button>
        </div>
        {selected && (
          <BulkLabelBar
            labels={labels.labels}
            selected={[...selected]}
            onCancel={() => setSelected(null)}
            onDone={() => {
              setSelected(null);
              void list.reload();
              void labels.reload();
            }}
          />
        )}
        {list.error && (
          <p role="alert" className="error">
            {list.error}
          </p>
        )}
        <ul
          className="conversations"
          aria-label="Conversations"
          aria-busy={list.loading}
          onKeyDown={onListKey}
          onScroll={(e) => {
            const el = e.currentTarget;
            if (el.scrollTop + el.clientHeight > el.scrollHeight - 200) void list.loadMore();
          }}
        >
          {list.items.map((c) => (
            <ConversationRow
              key={c.id}
              conversation={c}
              active={c.id === active}
              selected={selected ? selected.has(c.id) : undefined}
              onSelect={(on) =>
                setSelected((s) => {
                  const next = new Set(s);
                  if (on) next.add(c.id);
                  else next.delete(c.id);
                  return next;
                })
              }
            />
          ))}
          {!list.loading && list.items.length === 0 && <li className="empty">No conversations</li>}
          {list.nextCursor && (
            <li className="more">
              <button type="button" className="link" onClick={() => void list.loadMore()}>
                Load more
              </button>
            </li>
          )}
        </ul>
      </section>
      <section className="thread-pane" aria-label="Thread">
        {open && open.id === active ? (
          <Thread
            key={open.id}
            conversation={open}
            onChanged={(c) => {
              setOpen(c);
              list.upsert(c);
            }}
            onToggleContact={() => setShowContact((s) => !s)}
            contactOpen={showContact}
          />
        ) : (
          <p className="placeholder">Select a conversation</p>
        )}
      </section>
      {open && open.id === active && showContact && (
        <ContactPanel
          contactId={open.contactId}
          onClose={() => setShowContact(false)}
          onErased={() => {
            setShowContact(false);
            navigate('/');
            void list.reload();
          }}
        />
      )}
    </div>
  );
}

function ConversationRow(props: {
  conversation: Conversation;
  active: boolean;
  /** Whether the row is ticked in multi-select; undefined when multi-select is off. */
  selected?: boolean | undefined;
  onSelect?: (selected: boolean) => void;
}) {
  const { data } = useApp();
  const c = props.conversation;
  // The API's summaries when it sends them; otherwise the shared cache fetches them.
  const name = conversationName(c, c.contact ? undefined : (data.contact(c.contactId) ?? undefined));
  const cached = data.cachedPreview(c.id);
  const summary = c.lastMessage === undefined ? data.preview(c.id) : c.lastMessage;
  const preview = previewOf(cached && (!summary || cached.createdAt > summary.createdAt) ? cached : summary);
  return (
    <li className={props.selected !== undefined ? 'selectable' : undefined}>
      {props.selected !== undefined && (
        <input
          type="checkbox"
          aria-label={`Select ${name}`}
          checked={props.selected}
          onChange={(e) => props.onSelect?.(e.target.checked)}
        />
      )}
      <a
        href={`/c/${c.id}`}
        data-conversation={c.id}
        className={`conversation${props.active ? ' active' : ''}${c.unreadCount > 0 ? ' unread' : ''}`}
        aria-current={props.active ? 'true' : undefined}
        aria-label={`${name}${c.unreadCount > 0 ? `, ${c.unreadCount} unread` : ''}${c.status === 'resolved' ? ', resolved' : ''}`}
        onClick={(e) => {
          e.preventDefault();
          navigate(`/c/${c.id}`);
        }}
      >
        <span className="avatar" aria-hidden="true">
          {name.slice(0, 1).toUpperCase()}
        </span>
        <span className="summary">
          <span className="name">
            {name}
            <GroupMarker contactId={c.contactId} />
          </span>
          <span className="preview">{preview}</span>
          <LabelChips labels={labelsOf(c)} />
        </span>
        <span className="meta">
          <time dateTime={c.lastMessageAt}>{timeOf(c.lastMessageAt)}</time>
          {c.unreadCount > 0 && (
            <span className="badge" aria-hidden="true">
              {c.unreadCount}
            </span>
          )}
        </span>
      </a>
    </li>
  );
}
