import { SecretError } from './provider.ts';

/**
 * One rule for structured secrets, shared by every provider that stores text (env,
 * file): when a reference carries `#key`, the stored text is
 *
 * - a JSON object if its first non-blank character is `{`; the key's value must be a
 *   string, number or boolean (numbers and booleans are returned as their JSON text);
 * - otherwise `KEY=VALUE` lines: blank lines and lines starting with `#` are skipped,
 *   the key is trimmed and must be letters, digits, ".", "_" or "-", the value is everything after the first `=` with one pair of
 *   surrounding double or single quotes removed (what .env files and
 *   `kubectl create secret --from-env-file` users expect).
 *
 * `where` names the secret in errors (`env variable "X"`, `file /a/b`); errors never
 * quote the text, and parse errors are not chained because `JSON.parse` quotes its input.
 */
export function pickSecretKey(text: string, key: string, where: string): string {
  return pickSecretEntry(parseStructuredSecret(text, where), key, where);
}

/**
 * Entry `key` of a secret that is already a map (a Vault KV entry, a parsed JSON object):
 * strings as they are, numbers and booleans as their JSON text; anything else is
 * `SECRET_MALFORMED`, a missing key `SECRET_KEY_NOT_FOUND`. Errors never quote a value.
 */
export function pickSecretEntry(entries: Record<string, unknown>, key: string, where: string): string {
  if (!Object.hasOwn(entries, key)) {
    // Present keys are not listed: when a raw value is misread as KEY=VALUE, its
    // "keys" are pieces of the secret.
    throw new SecretError('SECRET_KEY_NOT_FOUND', `key "${key}" not found in ${where}`);
  }
  const value = entries[key];
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  throw new SecretError(
    'SECRET_MALFORMED',
    `key "${key}" in ${where} holds ${value === null ? 'null' : Array.isArray(value) ? 'an array' : 'an object'}, not a string`,
  );
}

// The same characters a reference's #key allows, so every entry can be addressed.
const ENTRY_NAME = /^[A-Za-z0-9._-]+$/;

function parseStructuredSecret(text: string, where: string): Record<string, unknown> {
  if (text.trimStart().startsWith('{')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      // Deliberately not chained: the SyntaxError's message quotes the secret text.
      throw new SecretError('SECRET_MALFORMED', `${where} starts with "{" but is not valid JSON`);
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw new SecretError('SECRET_MALFORMED', `${where} is JSON but not an object`);
    }
    return parsed as Record<string, unknown>;
  }
  const entries: Record<string, unknown> = {};
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const eq = line.indexOf('=');
    const name = eq === -1 ? '' : line.slice(0, eq).trim();
    if (!ENTRY_NAME.test(name)) {
      throw new SecretError(
        'SECRET_MALFORMED',
        `${where} is neither a JSON object nor KEY=VALUE lines (line ${i + 1} does not start with a KEY=)`,
      );
    }
    entries[name] = unquote(line.slice(eq + 1));
  }
  return entries;
}

function unquote(value: string): string {
  if (value.length >= 2) {
    const first = value[0];
    if ((first === '"' || first === "'") && value.endsWith(first)) return value.slice(1, -1);
  }
  return value;
}
