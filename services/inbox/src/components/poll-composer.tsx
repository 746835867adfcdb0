import { useState } from 'react';

/** A poll as the composer hands it to the thread (POST /v1/messages `poll`). */
export interface PollDraft {
  name: string;
  options: string[];
  /** 1: one answer; 0: any number. */
  selectableCount: number;
}

/**
 * The composer's poll row (WhatsApp app sessions): the question, one option per line (2 to 12),
 * and whether several answers are allowed. The API checks WhatsApp's limits and its refusal shows
 * on the pending message like any other.
 */
export function PollControls(props: { onSend: (poll: PollDraft) => void; onClose: () => void }) {
  const [name, setName] = useState('');
  const [lines, setLines] = useState('');
  const [several, setSeveral] = useState(false);
  const options = lines
    .split('\n')
    .map((o) => o.trim())
    .filter(Boolean);
  const ready = name.trim() !== '' && options.length >= 2 && options.length <= 12;
  return (
    <fieldset className="poll-controls" aria-label="Create a poll">
      <label>
        Question
        <input value={name} maxLength={255} onChange={(e) => setName(e.target.value)} />
      </label>
      <label>
        Options, one per line
        <textarea rows={3} value={lines} onChange={(e) => setLines(e.target.value)} />
      </label>
      <label className="inline">
        <input type="checkbox" checked={several} onChange={(e) => setSeveral(e.target.checked)} />
        Allow several answers
      </label>
      <div>
        <button
          type="button"
          disabled={!ready}
          onClick={() => {
            props.onSend({ name: name.trim(), options, selectableCount: several ? 0 : 1 });
            props.onClose();
          }}
        >
          Send poll
        </button>{' '}
        <button type="button" className="link" onClick={props.onClose}>
          Cancel
        </button>
      </div>
    </fieldset>
  );
}
