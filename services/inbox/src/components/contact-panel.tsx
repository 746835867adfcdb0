import { useEffect, useState } from 'react';
import { describeError } from '../api/client.ts';
import { type Contact, contactExportSchema, contactSchema } from '../api/schemas.ts';
import { roleAtLeast, useApp } from '../app-context.tsx';
import { contactName, formatNumber } from '../format.ts';
import { GroupParticipants, useGroup } from './group.tsx';
import { ContactLabels } from './labels.tsx';
import { ContactOptOut } from './opt-out.tsx';

/** The contact beside the thread: name and notes (editable), labels, campaign opt-out, numbers, LID; export and erase for admins. */
export function ContactPanel(props: { contactId: string; onClose: () => void; onErased: () => void }) {
  const { client, me, data } = useApp();
  const [contact, setContact] = useState<Contact | undefined>();
  const [name, setName] = useState('');
  const [notes, setNotes] = useState('');
  const [error, setError] = useState<string | undefined>();
  const [saved, setSaved] = useState(false);
  const [download, setDownload] = useState<string | undefined>();
  const [confirming, setConfirming] = useState(false);
  const admin = roleAtLeast(me.role, 'admin');
  const agent = roleAtLeast(me.role, 'agent');
  // A WhatsApp group has participants instead of numbers.
  const group = useGroup(props.contactId);

  useEffect(() => {
    let cancelled = false;
    client
      .request('GET', `/v1/contacts/${props.contactId}`, contactSchema)
      .then((c) => {
        if (cancelled) return;
        setContact(c);
        setName(c.displayName ?? '');
        setNotes(c.notes ?? '');
      })
      .catch((e) => !cancelled && setError(describeError(e)));
    return () => {
      cancelled = true;
    };
  }, [client, props.contactId]);

  useEffect(() => () => void (download && URL.revokeObjectURL(download)), [download]);

  const numbers = contact?.identities.filter((i) => i.kind === 'pn') ?? [];
  const lids = contact?.identities.filter((i) => i.kind === 'lid') ?? [];
  return (
    <aside className="contact-pane" aria-label="Contact">
      <header>
        <h2>{contactName(contact)}</h2>
        <button type="button" className="link" aria-label="Close contact" onClick={props.onClose}>
          ✕
        </button>
      </header>
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      {contact && (
        <>
          {contact.pushName && (
            <p>
              <span className="muted">WhatsApp name:</span> {contact.pushName}
            </p>
          )}
          <GroupParticipants contactId={contact.id} />
          <h3>Labels</h3>
          <ContactLabels contactId={contact.id} />
          {!group && (
            <>
              <h3>Campaigns</h3>
              <ContactOptOut contactId={contact.id} />
            </>
          )}
          {!group && (
            <>
              <h3>Numbers</h3>
              <ul aria-label="Phone numbers">
                {numbers.length === 0 && <li className="muted">None known</li>}
                {numbers.map((i) => (
                  <li key={i.value}>{formatNumber(i.value)}</li>
                ))}
              </ul>
              <h3>LID</h3>
              <ul aria-label="LIDs">
                {lids.length === 0 && <li className="muted">None known</li>}
                {lids.map((i) => (
                  <li key={i.value}>
                    <code>{i.value}</code>
                  </li>
                ))}
              </ul>
            </>
          )}
          {agent && (
            <form
              className="stack"
              onSubmit={async (e) => {
                e.preventDefault();
                setSaved(false);
                try {
                  const c = await client.request('PATCH', `/v1/contacts/${contact.id}`, contactSchema, {
                    body: { displayName: name.trim() || null, notes: notes.trim() || null },
                  });
                  setContact(c);
                  data.setContact(c);
                  setSaved(true);
                } catch (err) {
                  setError(describeError(err));
                }
              }}
            >
              <label>
                Name (shown to the team)
                <input value={name} onChange={(e) => setName(e.target.value)} maxLength={200} />
              </label>
              <label>
                Notes
                <textarea
                  value={notes}
                  onChange={(e) => setNotes(e.target.value)}
                  maxLength={10_000}
                  rows={4}
                />
              </label>
              <button type="submit">Save</button>
              {saved && <span role="status">Saved</span>}
            </form>
          )}
          {admin && (
            <div className="stack danger-zone">
              <h3>Data</h3>
              <button
                type="button"
                onClick={async () => {
                  try {
                    const exported = await client.request(
                      'GET',
                      `/v1/contacts/${contact.id}/export`,
                      contactExportSchema,
                    );
                    const blob = new Blob([JSON.stringify(exported, null, 2)], { type: 'application/json' });
                    setDownload(URL.createObjectURL(blob));
                  } catch (err) {
                    setError(describeError(err));
                  }
                }}
              >
                Export contact data
              </button>
              {download && (
                <a href={download} download={`contact-${contact.id}.json`}>
                  Download export (JSON)
                </a>
              )}
              {!confirming ? (
                <button type="button" className="danger" onClick={() => setConfirming(true)}>
                  Erase contact…
                </button>
              ) : (
                <div role="alertdialog" aria-label="Confirm erase" className="confirm">
                  <p>
                    Erase this contact and every conversation and message with them? This cannot be undone.
                  </p>
                  <button
                    type="button"
                    className="danger"
                    onClick={async () => {
                      try {
                        await client.send('DELETE', `/v1/contacts/${contact.id}`);
                        props.onErased();
                      } catch (err) {
                        setError(describeError(err));
                      }
                    }}
                  >
                    Erase permanently
                  </button>
                  <button type="button" onClick={() => setConfirming(false)}>
                    Cancel
                  </button>
                </div>
              )}
            </div>
          )}
        </>
      )}
    </aside>
  );
}
