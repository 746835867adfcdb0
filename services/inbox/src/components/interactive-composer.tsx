import { useState } from 'react';

/** An interactive message as the composer hands it to the thread (POST /v1/messages `interactive`). */
export type InteractiveDraft =
  | { kind: 'button'; body: string; buttons: { id: string; title: string }[] }
  | { kind: 'list'; body: string; button: string; sections: { rows: { id: string; title: string }[] }[] }
  | { kind: 'cta_url'; body: string; displayText: string; url: string };

/** One choice per non-empty line, each with an id made from its position (`<prefix>-1`, ...). */
function choices(lines: string, prefix: string): { id: string; title: string }[] {
  return lines
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean)
    .map((title, i) => ({ id: `${prefix}-${i + 1}`, title }));
}

/**
 * The composer's interactive row (Cloud API sessions): reply buttons (one title per line, up to
 * 3), a list (its button's label and one row per line, up to 10) or a link button (its label and
 * URL), each with the message's text. Meta's length limits are the API's to check: its refusal
 * (422 naming the field) shows on the pending message like any other. The customer's pick comes
 * back as an `interactive_reply` message naming the button or row.
 */
export function InteractiveControls(props: {
  onSend: (draft: InteractiveDraft) => void;
  onClose: () => void;
}) {
  const [kind, setKind] = useState<InteractiveDraft['kind']>('button');
  const [body, setBody] = useState('');
  const [lines, setLines] = useState('');
  const [label, setLabel] = useState('');
  const [url, setUrl] = useState('');
  const options = choices(lines, kind === 'list' ? 'row' : 'button');
  const ready =
    body.trim() !== '' &&
    (kind === 'button'
      ? options.length >= 1 && options.length <= 3
      : kind === 'list'
        ? label.trim() !== '' && options.length >= 1 && options.length <= 10
        : label.trim() !== '' && url.trim() !== '');
  const draft = (): InteractiveDraft =>
    kind === 'button'
      ? { kind, body: body.trim(), buttons: options }
      : kind === 'list'
        ? { kind, body: body.trim(), button: label.trim(), sections: [{ rows: options }] }
        : { kind, body: body.trim(), displayText: label.trim(), url: url.trim() };
  return (
    <fieldset className="poll-controls" aria-label="Create an interactive message">
      <label>
        Kind
        <select value={kind} onChange={(e) => setKind(e.target.value as InteractiveDraft['kind'])}>
          <option value="button">Reply buttons</option>
          <option value="list">List</option>
          <option value="cta_url">Link button</option>
        </select>
      </label>
      <label>
        Message
        <textarea rows={2} value={body} onChange={(e) => setBody(e.target.value)} />
      </label>
      {kind !== 'button' && (
        <label>
          {kind === 'list' ? 'List button label' : 'Link button label'}
          <input value={label} onChange={(e) => setLabel(e.target.value)} />
        </label>
      )}
      {kind === 'cta_url' ? (
        <label>
          Link
          <input type="url" value={url} placeholder="https://" onChange={(e) => setUrl(e.target.value)} />
        </label>
      ) : (
        <label>
          {kind === 'button' ? 'Buttons, one per line (up to 3)' : 'Rows, one per line (up to 10)'}
          <textarea rows={3} value={lines} onChange={(e) => setLines(e.target.value)} />
        </label>
      )}
      <div>
        <button
          type="button"
          disabled={!ready}
          onClick={() => {
            props.onSend(draft());
            props.onClose();
          }}
        >
          Send interactive message
        </button>{' '}
        <button type="button" className="link" onClick={props.onClose}>
          Cancel
        </button>
      </div>
    </fieldset>
  );
}
