import { useEffect, useState } from 'react';
import type { Message } from '../api/schemas.ts';
import { useApp } from '../app-context.tsx';

type MediaState = { kind: 'loading' } | { kind: 'ready'; url: string; mime: string } | { kind: 'missing' };

/**
 * A message's media, fetched with the access token (GET /v1/messages/:id/media) into a blob: URL
 * (the CSP allows blob: images; an <img src> to the API could not send the Authorization header).
 */
export function MediaPreview(props: { message: Message }) {
  const { client } = useApp();
  const m = props.message;
  const [state, setState] = useState<MediaState>({ kind: 'loading' });

  // Media is downloaded from WhatsApp after the message arrives; until then there is nothing to fetch.
  const stored = !!m.media && m.media.available !== false;
  useEffect(() => {
    if (!stored) return;
    let url: string | undefined;
    let cancelled = false;
    client
      .fetch('GET', `/v1/messages/${m.id}/media`)
      .then(async (res) => {
        if (!res.ok) {
          await res.body?.cancel();
          if (!cancelled) setState({ kind: 'missing' });
          return;
        }
        const blob = await res.blob();
        if (cancelled) return;
        url = URL.createObjectURL(blob);
        setState({ kind: 'ready', url, mime: blob.type || m.media?.mimeType || '' });
      })
      .catch(() => !cancelled && setState({ kind: 'missing' }));
    return () => {
      cancelled = true;
      if (url) URL.revokeObjectURL(url);
    };
  }, [client, m.id, m.media?.mimeType, stored]);

  const label = m.media?.fileName ?? m.body ?? m.type;
  if (!stored) return <div className="media placeholder-media">{m.type} (not downloaded yet)</div>;
  if (state.kind === 'loading') return <div className="media placeholder-media">Loading {m.type}…</div>;
  if (state.kind === 'missing') return <div className="media placeholder-media">{m.type} not available</div>;
  if (m.type === 'image' || m.type === 'sticker')
    return <img className="media" src={state.url} alt={m.body ?? `${m.type} from the conversation`} />;
  if (m.type === 'video')
    // biome-ignore lint/a11y/useMediaCaption: customers' videos come without captions
    return <video className="media" src={state.url} controls aria-label={label} />;
  if (m.type === 'audio')
    // biome-ignore lint/a11y/useMediaCaption: voice notes come without captions
    return <audio className="media" src={state.url} controls aria-label={label} />;
  return (
    <a className="media document" href={state.url} download={m.media?.fileName ?? 'document'}>
      📄 {label}
    </a>
  );
}
