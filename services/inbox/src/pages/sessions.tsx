import QRCode from 'qrcode';
import { useCallback, useEffect, useState } from 'react';
import { ApiRequestError, describeError } from '../api/client.ts';
import { type Pairing, pairingSchema, type Session, sessionSchema } from '../api/schemas.ts';
import { roleAtLeast, useApp } from '../app-context.tsx';
import { BotSettings } from '../components/bot-settings.tsx';
import { CallSettings } from '../components/call-settings.tsx';
import { ErrorAlert } from '../components/form-parts.tsx';
import { HistoryImportSettings } from '../components/history-import.tsx';
import { MessagingLimitSettings } from '../components/messaging-limit.tsx';
import { formatNumber, timeOf } from '../format.ts';
import { useListResource } from '../list-resource.ts';

const STATE_LABEL: Record<Session['state'], string> = {
  unpaired: 'Not paired',
  pairing: 'Waiting for pairing',
  connecting: 'Connecting',
  connected: 'Connected',
  disconnected: 'Disconnected',
  logged_out: 'Logged out',
};

/** The tenant's WhatsApp numbers: add one, pair it (QR or code), watch its state, log it out; a WhatsApp app number's call handling. */
export function SessionsPage() {
  const { client, me, subscribe, data } = useApp();
  const sessions = useListResource('/v1/sessions', sessionSchema);
  const { reload, setItems } = sessions;
  const [name, setName] = useState('');
  const [channel, setChannel] = useState<'baileys' | 'cloud-api'>('baileys');
  const admin = roleAtLeast(me.role, 'admin');

  useEffect(
    () =>
      subscribe((event) => {
        if (event.type !== 'session.state') return;
        const { sessionId, state, reason, phoneNumber } = event.data;
        setItems((list) => {
          if (!list.some((s) => s.id === sessionId)) {
            void reload();
            return list;
          }
          return list.map((s) =>
            s.id === sessionId
              ? {
                  ...s,
                  state,
                  stateReason: reason ?? null,
                  phoneNumber: phoneNumber ?? s.phoneNumber,
                  stateChangedAt: event.at,
                }
              : s,
          );
        });
      }),
    [subscribe, reload, setItems],
  );

  return (
    <div className="page">
      <h1>Sessions</h1>
      <ErrorAlert error={sessions.error} />
      {admin && (
        <form
          className="inline-form"
          aria-label="Add a number"
          onSubmit={(e) => {
            e.preventDefault();
            void sessions.act(async () => {
              const created = await client.request('POST', '/v1/sessions', sessionSchema, {
                body: { name: name.trim(), channel },
              });
              sessions.update((list) => [created, ...list.filter((s) => s.id !== created.id)]);
              setName('');
              void data.reloadSessions();
            });
          }}
        >
          <label>
            Name
            <input
              value={name}
              required
              pattern="[a-z0-9]([a-z0-9\-]{0,61}[a-z0-9])?"
              title="lower-case letters, digits and -"
              placeholder="support-br"
              onChange={(e) => setName(e.target.value)}
            />
          </label>
          <label>
            Channel
            <select value={channel} onChange={(e) => setChannel(e.target.value as 'baileys' | 'cloud-api')}>
              <option value="baileys">WhatsApp app (QR / code)</option>
              <option value="cloud-api">Cloud API</option>
            </select>
          </label>
          <button type="submit">Add number</button>
        </form>
      )}
      <ul className="cards" aria-label="Sessions">
        {sessions.items.length === 0 && <li className="muted">No sessions yet</li>}
        {sessions.items.map((s) => (
          <SessionCard key={s.id} session={s} admin={admin} />
        ))}
      </ul>
    </div>
  );
}

function SessionCard(props: { session: Session; admin: boolean }) {
  const { client, subscribe } = useApp();
  const s = props.session;
  const [pairing, setPairing] = useState<Pairing | undefined>();
  const [qr, setQr] = useState<string | undefined>();
  const [phone, setPhone] = useState('');
  const [notice, setNotice] = useState<string | undefined>();
  const waiting = s.state === 'pairing' || s.state === 'unpaired';

  const fetchPairing = useCallback(async () => {
    const res = await client.fetch('GET', `/v1/sessions/${s.id}/pairing`);
    // 204: no challenge right now (between two codes, or before the first).
    if (!res.ok || res.status === 204) {
      await res.body?.cancel();
      return;
    }
    const parsed = pairingSchema.safeParse(await res.json());
    if (parsed.success) setPairing((old) => (old && old.sequence > parsed.data.sequence ? old : parsed.data));
  }, [client, s.id]);

  // A challenge is only there while pairing; each new one arrives as a session.pairing event.
  useEffect(() => {
    if (props.admin && s.state === 'pairing') void fetchPairing();
  }, [props.admin, s.state, fetchPairing]);
  useEffect(
    () =>
      subscribe((event) => {
        if (event.type === 'session.pairing' && event.data.sessionId === s.id && props.admin)
          void fetchPairing();
      }),
    [subscribe, s.id, props.admin, fetchPairing],
  );
  useEffect(() => {
    if (!waiting) setPairing(undefined);
  }, [waiting]);
  // Events are the fast path; while waiting, a slow poll also picks up a challenge whose event
  // this page missed (published between the list's load and the stream's start, or in a gap).
  useEffect(() => {
    if (!props.admin || s.state !== 'pairing') return;
    const timer = setInterval(() => void fetchPairing(), 3_000);
    return () => clearInterval(timer);
  }, [props.admin, s.state, fetchPairing]);

  useEffect(() => {
    if (pairing?.kind !== 'qr') {
      setQr(undefined);
      return;
    }
    let cancelled = false;
    QRCode.toDataURL(pairing.code, { margin: 1, width: 256, errorCorrectionLevel: 'L' })
      .then((url) => !cancelled && setQr(url))
      .catch(() => !cancelled && setQr(undefined));
    return () => {
      cancelled = true;
    };
  }, [pairing]);

  const command = async (path: string, body?: unknown) => {
    try {
      await client.send('POST', `/v1/sessions/${s.id}/${path}`, body !== undefined ? { body } : {});
      setNotice(path === 'logout' ? 'Logging out…' : 'Code requested; it appears here shortly.');
    } catch (e) {
      setNotice(
        e instanceof ApiRequestError && e.status === 404 && e.code !== 'not_found'
          ? 'This server does not support that yet.'
          : describeError(e),
      );
    }
  };

  return (
    <li className="card" aria-label={`Session ${s.name}`}>
      <header>
        <h2>{s.name}</h2>
        <span className={`state state-${s.state}`} role="status" aria-label={`State of ${s.name}`}>
          {STATE_LABEL[s.state]}
        </span>
      </header>
      <p className="muted">
        {s.channel === 'cloud-api' ? 'Cloud API' : 'WhatsApp app'}
        {s.phoneNumber ? ` · ${formatNumber(s.phoneNumber)}` : ''} · since {timeOf(s.stateChangedAt)}
        {s.declared ? ' · declared in the tenant spec' : ''}
      </p>
      {s.stateReason && <p className={`reason reason-${s.state}`}>Reason: {s.stateReason}</p>}
      {waiting && pairing?.kind === 'qr' && qr && (
        <figure className="qr">
          <img src={qr} alt={`QR code to pair ${s.name}`} width={256} height={256} />
          <figcaption>
            On the phone: WhatsApp → Linked devices → Link a device. Refreshes until paired.
          </figcaption>
        </figure>
      )}
      {waiting && pairing?.kind === 'code' && (
        <p className="pairing-code">
          <span className="visually-hidden">Pairing code: </span>
          {pairing.code.replace(/^(.{4})(.{4})$/, '$1-$2')}
        </p>
      )}
      {props.admin && s.channel === 'baileys' && waiting && (
        <form
          className="inline-form"
          aria-label={`Pair ${s.name} with a code`}
          onSubmit={(e) => {
            e.preventDefault();
            void command('pairing-code', { phoneNumber: phone.replace(/\D/g, '') });
          }}
        >
          <label>
            Phone number
            <input
              inputMode="tel"
              placeholder="+55 11 99999 0000"
              value={phone}
              onChange={(e) => setPhone(e.target.value)}
            />
          </label>
          <button type="submit" disabled={phone.replace(/\D/g, '').length < 7}>
            Get pairing code
          </button>
        </form>
      )}
      {props.admin &&
        s.channel === 'baileys' &&
        (s.state === 'connected' || s.state === 'disconnected' || s.state === 'connecting') && (
          <button type="button" onClick={() => void command('logout')}>
            Log out {s.name}
          </button>
        )}
      {s.channel === 'baileys' && <CallSettings sessionId={s.id} sessionName={s.name} admin={props.admin} />}
      {s.channel === 'baileys' && (
        <HistoryImportSettings sessionId={s.id} sessionName={s.name} admin={props.admin} />
      )}
      {s.channel === 'cloud-api' && (
        <MessagingLimitSettings sessionId={s.id} sessionName={s.name} admin={props.admin} />
      )}
      <BotSettings sessionId={s.id} sessionName={s.name} admin={props.admin} />
      {notice && <p role="status">{notice}</p>}
    </li>
  );
}
