// The SSE framing of a tenant stream's entries: each entry validated against the realtime event
// contract and framed once, so every open stream is written the same bytes.
import { REALTIME_EVENT_FIELD, realtimeEventSchema } from '@switchboard/messaging/producer';

/** One entry framed for SSE, with its id. */
export interface Frame {
  id: string;
  frame: Buffer;
}

/** One entry framed for SSE once, written to every stream as the same bytes. */
export function frameOf(id: string, fields: string[]): Buffer | undefined {
  const at = fields.indexOf(REALTIME_EVENT_FIELD);
  if (at < 0) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(fields[at + 1] ?? '');
  } catch {
    return undefined;
  }
  // Only events of the contract reach clients: an entry that is not one is skipped, not sent.
  const parsed = realtimeEventSchema.safeParse(json);
  if (!parsed.success) return undefined;
  return Buffer.from(`id: ${id}\nevent: ${parsed.data.type}\ndata: ${JSON.stringify(parsed.data)}\n\n`);
}
