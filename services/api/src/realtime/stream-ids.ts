// Redis stream entry ids (`<ms>-<seq>`), which the SSE stream sends as event ids and clients
// resume from (Last-Event-ID).

/** An entry id as the route accepts it from a client: two decimal numbers joined by a dash. */
export const STREAM_ID = /^\d{1,20}-\d{1,20}$/;

/** Negative, zero or positive as stream id `a` is before, equal to or after `b` (both valid ids). */
export function compareStreamIds(a: string, b: string): number {
  const dashA = a.indexOf('-');
  const dashB = b.indexOf('-');
  // Up to 20 digits each: compared as BigInt, since millisecond parts past 2^53 are valid ids.
  const msA = BigInt(a.slice(0, dashA));
  const msB = BigInt(b.slice(0, dashB));
  if (msA !== msB) return msA < msB ? -1 : 1;
  const seqA = BigInt(a.slice(dashA + 1));
  const seqB = BigInt(b.slice(dashB + 1));
  return seqA === seqB ? 0 : seqA < seqB ? -1 : 1;
}
