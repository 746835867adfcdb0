// Locations as RFC 5870 geo URIs: how a message row stores one in `body` (there are no location columns).

/** `geo:<lat>,<lon>` with the place's name and address as parameters. */
export function geoUri(location: {
  latitude: number;
  longitude: number;
  name?: string;
  address?: string;
}): string {
  let uri = `geo:${location.latitude},${location.longitude}`;
  if (location.name) uri += `;name=${encodeURIComponent(location.name)}`;
  if (location.address) uri += `;address=${encodeURIComponent(location.address)}`;
  return uri;
}

/** Parses what {@link geoUri} wrote; undefined when `body` is not a geo URI. */
export function parseGeoUri(
  body: string,
): { latitude: number; longitude: number; name?: string; address?: string } | undefined {
  const match = /^geo:(-?[\d.]+),(-?[\d.]+)((?:;[a-z]+=[^;]*)*)$/.exec(body);
  if (!match) return undefined;
  const result: { latitude: number; longitude: number; name?: string; address?: string } = {
    latitude: Number(match[1]),
    longitude: Number(match[2]),
  };
  for (const param of (match[3] ?? '').split(';').filter(Boolean)) {
    const [key, value = ''] = param.split('=');
    if (key === 'name') result.name = decodeURIComponent(value);
    if (key === 'address') result.address = decodeURIComponent(value);
  }
  return result;
}
