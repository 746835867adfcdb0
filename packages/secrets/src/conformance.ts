/**
 * The conformance suite every `SecretProvider` adapter runs (env, file, Vault, AWS Secrets
 * Manager): call `describeSecretProviderConformance(fixture)` from the adapter's
 * test file. Test-only: it imports vitest, so it is not exported from the package index.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SecretError, type SecretErrorCode, type SecretProvider } from './provider.ts';
import { isValidProviderName } from './reference.ts';

/** The secrets a fixture must store before handing out its provider. */
export interface ConformanceSecrets {
  /** A raw value, read without a key. */
  plain: string;
  /** A structured secret, read key by key (stored as a JSON object). */
  structured: Record<string, string>;
}

/** A provider under test, seeded with `ConformanceSecrets`, and where it keeps them. */
export interface ProviderUnderTest {
  /** The provider, already seeded. */
  provider: SecretProvider;
  /** Path of the raw secret. */
  plainPath: string;
  /** Path of the structured secret. */
  structuredPath: string;
  /** A valid path where nothing is stored. */
  missingPath: string;
  /** Replaces the raw secret's value the way the real backend rotates it (required when `supportsWatch`). */
  rotatePlain?: (value: string) => Promise<void>;
  /** Removes whatever the fixture created; the suite closes the provider itself. */
  cleanup(): Promise<void>;
}

/** How the suite gets a fresh provider for each test. */
export interface SecretProviderFixture {
  /** The name the provider must register under. */
  name: string;
  /** Whether the provider implements `watch`; the suite checks that this is true of the provider. */
  supportsWatch: boolean;
  /** Seeds a backend with `secrets` and returns a provider over it; called once per test. */
  create(secrets: ConformanceSecrets): Promise<ProviderUnderTest>;
}

// Values with the characters that break naive handling: spaces, "=", "#", quotes,
// non-ASCII, a leading space. None may ever appear in an error message.
const SECRETS: ConformanceSecrets = {
  plain: ' pl@in secret=#"value" ünïcødé',
  structured: { username: 'switchboard-user', password: 'pa55 word=#"Ω"', token: 'tok-3f9c2a7e' },
};
const ALL_VALUES = [SECRETS.plain, ...Object.values(SECRETS.structured)];

async function rejection(promise: Promise<unknown>): Promise<SecretError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error, 'expected the call to reject').toBeInstanceOf(SecretError);
  const secretError = error as SecretError;
  for (const value of ALL_VALUES) expect(secretError.message).not.toContain(value);
  return secretError;
}

function expectCode(error: SecretError, codes: SecretErrorCode[]): void {
  expect(codes, `unexpected code ${error.code}: ${error.message}`).toContain(error.code);
}

/** A listener that counts its calls; `next()` resolves on the call after it is asked for. */
function recordingListener(): { callback: () => void; next: () => Promise<void>; count: () => number } {
  let calls = 0;
  let waiting: Array<() => void> = [];
  return {
    callback: () => {
      calls++;
      for (const wake of waiting) wake();
      waiting = [];
    },
    next: () => new Promise<void>((resolve) => waiting.push(resolve)),
    count: () => calls,
  };
}

/** Registers the shared conformance tests for one provider adapter. */
export function describeSecretProviderConformance(fixture: SecretProviderFixture): void {
  describe(`SecretProvider conformance: ${fixture.name}`, () => {
    let current: ProviderUnderTest | undefined;

    async function setup(): Promise<ProviderUnderTest> {
      current = await fixture.create(SECRETS);
      return current;
    }

    afterEach(async () => {
      if (current === undefined) return;
      await current.provider.close();
      await current.cleanup();
      current = undefined;
    });

    it('registers under its fixture name, usable in a secret:// reference', async () => {
      const { provider } = await setup();
      expect(provider.name).toBe(fixture.name);
      expect(isValidProviderName(provider.name)).toBe(true);
    });

    it('returns a raw value exactly as stored', async () => {
      const { provider, plainPath } = await setup();
      await expect(provider.get(plainPath)).resolves.toBe(SECRETS.plain);
    });

    it('returns each key of a structured secret', async () => {
      const { provider, structuredPath } = await setup();
      for (const [key, value] of Object.entries(SECRETS.structured)) {
        await expect(provider.get(structuredPath, key)).resolves.toBe(value);
      }
    });

    it('rejects a missing path with SECRET_NOT_FOUND, naming the path and no value', async () => {
      const { provider, missingPath } = await setup();
      const error = await rejection(provider.get(missingPath));
      expectCode(error, ['SECRET_NOT_FOUND']);
      expect(error.message).toContain(missingPath);
    });

    it('rejects a missing key with SECRET_KEY_NOT_FOUND, naming the key and no value', async () => {
      const { provider, structuredPath } = await setup();
      const error = await rejection(provider.get(structuredPath, 'no-such-key'));
      expectCode(error, ['SECRET_KEY_NOT_FOUND']);
      expect(error.message).toContain('no-such-key');
    });

    it('rejects a key lookup on a raw value without quoting the value', async () => {
      const { provider, plainPath } = await setup();
      const error = await rejection(provider.get(plainPath, 'password'));
      expectCode(error, ['SECRET_KEY_NOT_FOUND', 'SECRET_MALFORMED']);
    });

    it(`${fixture.supportsWatch ? 'implements' : 'does not implement'} watch`, async () => {
      const { provider } = await setup();
      expect(typeof provider.watch === 'function').toBe(fixture.supportsWatch);
    });

    it('closes idempotently and refuses reads afterwards', async () => {
      const { provider, plainPath } = await setup();
      await provider.close();
      await provider.close();
      const error = await rejection(provider.get(plainPath));
      expectCode(error, ['SECRET_PROVIDER_CLOSED']);
    });

    if (fixture.supportsWatch) {
      it('notifies watchers of every rotation, and the new value is readable', async () => {
        const { provider, plainPath, rotatePlain } = await setup();
        if (rotatePlain === undefined)
          throw new Error('a fixture that supports watch must provide rotatePlain');
        const watch = provider.watch!.bind(provider);

        // A watch reports changes from the value the caller last read (a provider that polls
        // compares against it), so the caller reads first, as a service does at start.
        await expect(provider.get(plainPath)).resolves.toBe(SECRETS.plain);
        // One subscription across two rotations: a watch that only survives the first
        // change (a watch on the replaced inode) never sees the second.
        const listener = recordingListener();
        const stop = watch(plainPath, listener.callback);
        for (const value of ['rotated-once', 'rotated-twice']) {
          const changed = listener.next();
          await rotatePlain(value);
          await changed;
          await expect(provider.get(plainPath)).resolves.toBe(value);
        }
        stop();
      });

      it('stops notifying a watcher once it unsubscribes', async () => {
        const { provider, plainPath, rotatePlain } = await setup();
        if (rotatePlain === undefined)
          throw new Error('a fixture that supports watch must provide rotatePlain');
        const watch = provider.watch!.bind(provider);
        await provider.get(plainPath);
        const stopped = recordingListener();
        const still = recordingListener();
        const stop = watch(plainPath, stopped.callback);
        const stopStill = watch(plainPath, still.callback);
        stop();
        stop();
        const changed = still.next();
        await rotatePlain('rotated-after-unsubscribe');
        // Both listeners of one path are notified from the same re-read, so once the
        // remaining one has been called the removed one would have been too.
        await changed;
        expect(stopped.count()).toBe(0);
        stopStill();
      });
    }
  });
}
