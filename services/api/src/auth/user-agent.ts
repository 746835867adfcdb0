/**
 * A signed-in device as a person recognises it: the browser and the operating system named by a
 * User-Agent header. Only the families the sessions list shows are told apart; anything else is
 * 'Unknown'. The order of the checks matters: Chromium-based browsers also say "Chrome" and
 * "Safari", Chrome on iOS says "Safari" and "CriOS", and Android user agents also say "Linux".
 */
export interface Device {
  browser: string;
  os: string;
}

/** The longest User-Agent kept with a session; longer headers are cut (nobody reads past this). */
export const MAX_USER_AGENT_LENGTH = 512;

// [name, pattern] in the order they are tried; the first capture group is the major version.
const BROWSERS: readonly [string, RegExp][] = [
  ['Edge', /\b(?:Edg|EdgA|EdgiOS|Edge)\/(\d+)/],
  ['Opera', /\b(?:OPR|OPiOS|Opera)\/(\d+)/],
  ['Samsung Internet', /\bSamsungBrowser\/(\d+)/],
  ['Firefox', /\b(?:Firefox|FxiOS)\/(\d+)/],
  ['Chrome', /\b(?:CriOS|Chrome|HeadlessChrome)\/(\d+)/],
  ['Chromium', /\bChromium\/(\d+)/],
  ['Safari', /\bVersion\/(\d+)[^ ]* (?:Mobile\/\S+ )?Safari\//],
  ['curl', /^curl\/(\d+)/],
];

// Checked in order: the first whose pattern matches names the OS.
const SYSTEMS: readonly [string, RegExp, ((m: RegExpExecArray) => string)?][] = [
  ['iOS', /\b(?:iPhone|iPad|iPod)\b.*? OS (\d+)[_.]?(\d+)?/, (m) => `iOS ${m[1]}${m[2] ? `.${m[2]}` : ''}`],
  ['Android', /\bAndroid (\d+(?:\.\d+)?)/, (m) => `Android ${m[1]}`],
  ['ChromeOS', /\bCrOS\b/],
  ['Windows', /\bWindows NT (\d+\.\d+)/, (m) => windowsName(m[1]!)],
  ['macOS', /\bMac OS X (\d+)[_.](\d+)/, (m) => `macOS ${m[1]}.${m[2]}`],
  ['macOS', /\bMacintosh\b/],
  ['Linux', /\bLinux\b/],
];

function windowsName(nt: string): string {
  // Windows 11 still says NT 10.0; only client hints tell them apart.
  const names: Record<string, string> = {
    '10.0': 'Windows',
    '6.3': 'Windows 8.1',
    '6.2': 'Windows 8',
    '6.1': 'Windows 7',
  };
  return names[nt] ?? 'Windows';
}

/** The browser (with its major version) and OS of a User-Agent header; 'Unknown' for either it cannot tell. */
export function parseUserAgent(header: string | undefined): Device {
  const ua = (header ?? '').slice(0, MAX_USER_AGENT_LENGTH);
  let browser = 'Unknown';
  for (const [name, pattern] of BROWSERS) {
    const match = pattern.exec(ua);
    if (match) {
      browser = `${name} ${match[1]}`;
      break;
    }
  }
  let os = 'Unknown';
  for (const [name, pattern, describe] of SYSTEMS) {
    const match = pattern.exec(ua);
    if (match) {
      os = describe ? describe(match) : name;
      break;
    }
  }
  return { browser, os };
}
