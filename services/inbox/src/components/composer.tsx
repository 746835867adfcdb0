import { type ReactNode, useEffect, useRef, useState } from 'react';
import {
  type Message,
  pageOf,
  type QuickReply,
  quickReplySchema,
  type Template,
  templateSchema,
} from '../api/schemas.ts';
import { useApp } from '../app-context.tsx';
import { previewOf } from '../format.ts';
import { InteractiveControls, type InteractiveDraft } from './interactive-composer.tsx';
import { PollControls, type PollDraft } from './poll-composer.tsx';
import { ScheduleControls, ScheduledList } from './scheduled.tsx';

/** What the composer asks the thread to send. */
export type Outgoing =
  | { kind: 'text'; text: string; replyTo: Message | undefined }
  | { kind: 'template'; template: Template }
  | { kind: 'file'; file: File; caption: string | undefined }
  | { kind: 'poll'; poll: PollDraft }
  | { kind: 'interactive'; interactive: InteractiveDraft };

/** 16 MB: WhatsApp's limit for most media (documents allow more; the API refuses what it cannot send). */
const MAX_ATTACHMENT_BYTES = 16 * 1024 * 1024;

/**
 * The reply box: Enter sends, Shift+Enter is a new line; "/" at the start suggests quick replies
 * by shortcut; templates from a menu; one attachment at a time. The clock button schedules the
 * typed text for a later time; the conversation's pending scheduled messages show above the box.
 */
export function Composer(props: {
  conversationId: string;
  replyTo: Message | undefined;
  onCancelReply: () => void;
  onSend: (outgoing: Outgoing) => void;
  /** Offer polls (WhatsApp app sessions). */
  polls?: boolean;
  /** Offer reply buttons, lists and link buttons (Cloud API sessions). */
  interactive?: boolean;
}) {
  const { client } = useApp();
  const [text, setText] = useState('');
  const [quickReplies, setQuickReplies] = useState<QuickReply[]>([]);
  const [templates, setTemplates] = useState<Template[]>([]);
  const [menu, setMenu] = useState<'none' | 'templates'>('none');
  const [highlight, setHighlight] = useState(0);
  const [file, setFile] = useState<File | undefined>();
  const [notice, setNotice] = useState<string | undefined>();
  const [scheduling, setScheduling] = useState(false);
  const [polling, setPolling] = useState(false);
  const [composingInteractive, setComposingInteractive] = useState(false);
  const [scheduledVersion, setScheduledVersion] = useState(0);
  const box = useRef<HTMLTextAreaElement>(null);
  const fileInput = useRef<HTMLInputElement>(null);

  useEffect(() => {
    client
      .request('GET', '/v1/quick-replies?limit=100', pageOf(quickReplySchema))
      .then((p) => setQuickReplies(p.items))
      .catch(() => setQuickReplies([]));
    client
      .request('GET', '/v1/templates?limit=100', pageOf(templateSchema))
      .then((p) => setTemplates(p.items))
      .catch(() => setTemplates([]));
  }, [client]);

  useEffect(() => {
    if (props.replyTo) box.current?.focus();
  }, [props.replyTo]);

  const slash = /^\/([-a-z0-9_]*)$/.exec(text);
  const suggestions = slash ? quickReplies.filter((q) => q.shortcut.startsWith(slash[1] ?? '')) : [];

  const applyQuickReply = (q: QuickReply) => {
    setText(q.body);
    setHighlight(0);
    box.current?.focus();
  };

  const submit = () => {
    if (file) {
      props.onSend({ kind: 'file', file, caption: text.trim() || undefined });
      setFile(undefined);
      setText('');
      if (fileInput.current) fileInput.current.value = '';
      return;
    }
    const value = text.trim();
    if (!value) return;
    props.onSend({ kind: 'text', text: value, replyTo: props.replyTo });
    setText('');
  };

  return (
    <form
      className="composer"
      aria-label="Reply"
      onSubmit={(e) => {
        e.preventDefault();
        submit();
      }}
    >
      <ScheduledList conversationId={props.conversationId} version={scheduledVersion} hideWhenEmpty />
      {scheduling && (
        <ScheduleControls
          conversationId={props.conversationId}
          text={text}
          onScheduled={() => {
            setText('');
            setScheduling(false);
            setScheduledVersion((v) => v + 1);
            box.current?.focus();
          }}
          onClose={() => {
            setScheduling(false);
            box.current?.focus();
          }}
        />
      )}
      {props.replyTo && (
        <div className="replying">
          <span>
            Replying to: <q>{previewOf(props.replyTo)}</q>
          </span>
          <button type="button" className="link" onClick={props.onCancelReply} aria-label="Cancel reply">
            ✕
          </button>
        </div>
      )}
      {file && (
        <div className="replying">
          <span>Attachment: {file.name}</span>
          <button
            type="button"
            className="link"
            aria-label="Remove attachment"
            onClick={() => {
              setFile(undefined);
              if (fileInput.current) fileInput.current.value = '';
            }}
          >
            ✕
          </button>
        </div>
      )}
      {notice && (
        <p className="error" role="alert">
          {notice}
        </p>
      )}
      {suggestions.length > 0 && (
        <ul className="suggestions" aria-label="Quick replies">
          {suggestions.map((q, i) => (
            <li key={q.id} aria-current={i === highlight ? 'true' : undefined}>
              <button
                type="button"
                className="link"
                tabIndex={-1}
                onMouseDown={(e) => {
                  e.preventDefault();
                  applyQuickReply(q);
                }}
              >
                <strong>/{q.shortcut}</strong> {q.title}
              </button>
            </li>
          ))}
        </ul>
      )}
      {menu === 'templates' && (
        <ul className="suggestions" aria-label="Templates">
          {templates.length === 0 && <li className="muted">No templates</li>}
          {templates.map((t) => (
            <li key={t.id}>
              <button
                type="button"
                className="link"
                onClick={() => {
                  setMenu('none');
                  props.onSend({ kind: 'template', template: t });
                }}
              >
                <strong>{t.name}</strong> ({t.language}) {t.body}
              </button>
            </li>
          ))}
        </ul>
      )}
      {polling && (
        <PollControls
          onSend={(poll) => props.onSend({ kind: 'poll', poll })}
          onClose={() => setPolling(false)}
        />
      )}
      {composingInteractive && (
        <InteractiveControls
          onSend={(interactive) => props.onSend({ kind: 'interactive', interactive })}
          onClose={() => setComposingInteractive(false)}
        />
      )}
      <div className="composer-row">
        <button
          type="button"
          className="icon"
          aria-label="Attach a file"
          title="Attach a file"
          onClick={() => fileInput.current?.click()}
        >
          <OutlineIcon>
            <path d="M21 11.5 12.5 20a5 5 0 0 1-7-7L14 4.5a3.5 3.5 0 0 1 5 5L10.5 18a2 2 0 0 1-3-3L15 7.5" />
          </OutlineIcon>
        </button>
        <input
          ref={fileInput}
          type="file"
          hidden
          aria-label="Attachment"
          onChange={(e) => {
            const chosen = e.target.files?.[0];
            if (chosen && chosen.size > MAX_ATTACHMENT_BYTES) {
              setNotice(`${chosen.name} is larger than 16 MB`);
              e.target.value = '';
              return;
            }
            setNotice(undefined);
            setFile(chosen);
          }}
        />
        <button
          type="button"
          className="icon"
          aria-label="Templates"
          aria-expanded={menu === 'templates'}
          onClick={() => setMenu((m) => (m === 'templates' ? 'none' : 'templates'))}
        >
          <OutlineIcon>
            <rect x="5" y="4" width="14" height="17" rx="2" />
            <path d="M9 4h6v3H9zM8.5 11h7M8.5 15h5" />
          </OutlineIcon>
        </button>
        <RowToggle
          label="Schedule"
          title="Schedule for later"
          open={scheduling}
          disabled={file !== undefined}
          onToggle={() => setScheduling((open) => !open)}
        >
          <circle cx="12" cy="12" r="9" />
          <path d="M12 7v5l3 2" />
        </RowToggle>
        {props.interactive && (
          <RowToggle
            label="Buttons"
            title="Send reply buttons, a list or a link button"
            open={composingInteractive}
            onToggle={() => setComposingInteractive((open) => !open)}
          >
            <rect x="3" y="5" width="18" height="5" rx="2" />
            <rect x="3" y="14" width="18" height="5" rx="2" />
          </RowToggle>
        )}
        {props.polls && (
          <RowToggle
            label="Poll"
            title="Create a poll"
            open={polling}
            onToggle={() => setPolling((open) => !open)}
          >
            <path d="M5 20V10M12 20V4M19 20v-7" />
          </RowToggle>
        )}
        <textarea
          ref={box}
          aria-label="Message"
          placeholder={file ? 'Add a caption' : 'Type a message; / for quick replies'}
          rows={1}
          value={text}
          onChange={(e) => {
            setText(e.target.value);
            setHighlight(0);
          }}
          onKeyDown={(e) => {
            if (suggestions.length > 0) {
              if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
                e.preventDefault();
                const step = e.key === 'ArrowDown' ? 1 : -1;
                setHighlight((h) => (h + step + suggestions.length) % suggestions.length);
                return;
              }
              if (e.key === 'Enter' || e.key === 'Tab') {
                e.preventDefault();
                const chosen = suggestions[highlight];
                if (chosen) applyQuickReply(chosen);
                return;
              }
            }
            if (e.key === 'Enter' && !e.shiftKey && !e.nativeEvent.isComposing) {
              e.preventDefault();
              submit();
            }
          }}
        />
        <button type="submit" disabled={!text.trim() && !file}>
          Send
        </button>
      </div>
    </form>
  );
}

/** An icon button of the composer's row that opens or closes a row above it (schedule, buttons, poll). */
function RowToggle(props: {
  label: string;
  title: string;
  open: boolean;
  disabled?: boolean;
  onToggle: () => void;
  /** The icon's strokes (a 24 x 24 outline). */
  children: ReactNode;
}) {
  return (
    <button
      type="button"
      className="icon"
      aria-label={props.label}
      title={props.title}
      aria-expanded={props.open}
      disabled={props.disabled}
      onClick={props.onToggle}
    >
      <OutlineIcon>{props.children}</OutlineIcon>
    </button>
  );
}

/** A composer icon: a 24 x 24 outline drawn with `children`'s strokes, hidden from screen readers (its button has the label). */
function OutlineIcon(props: { children: ReactNode }) {
  return (
    <svg
      viewBox="0 0 24 24"
      width="18"
      height="18"
      aria-hidden="true"
      fill="none"
      stroke="currentColor"
      strokeWidth="2"
    >
      {props.children}
    </svg>
  );
}
