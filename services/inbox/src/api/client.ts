import type { z } from 'zod';
import { errorBodySchema, type TokenPair, tokenPairSchema } from './schemas.ts';
import { loginAnswerSchema, type SignInStep } from './two-factor-schemas.ts';

/** An API answer that was not 2xx: the API's stable error code and message, and the HTTP status. */
export class ApiRequestError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = 'ApiRequestError';
    this.status = status;
    this.code = code;
  }
}

/** Where the refresh token lives between reloads (see the README: sessionStorage, one tab per login). */
export interface RefreshTokenStore {
  get(): string | null;
  set(token: string | null): void;
}

const REFRESH_KEY = 'switchboard.refreshToken';

/** The refresh token in this tab's sessionStorage. */
export const sessionRefreshStore: RefreshTokenStore = {
  get: () => sessionStorage.getItem(REFRESH_KEY),
  set: (token) => {
    if (token) sessionStorage.setItem(REFRESH_KEY, token);
    else sessionStorage.removeItem(REFRESH_KEY);
  },
};

/** Options of one request. */
export interface RequestOptions {
  body?: unknown;
  form?: FormData;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

/** Options of ApiClient. */
export interface ApiClientOptions {
  /** Prefix of every path: '' when the API serves the inbox (one origin). */
  baseUrl?: string;
  store: RefreshTokenStore;
  /** Called once the credentials are gone (logout, or a refresh that failed). */
  onSignedOut?: () => void;
}

/**
 * The API over fetch. The access token is kept in memory only (a script injected into the page
 * cannot read it from storage after a reload); a 401 refreshes it once with the refresh token,
 * one refresh at a time however many requests failed together, and repeats the request.
 */
export class ApiClient {
  private accessToken: string | null = null;
  private refreshing: Promise<boolean> | null = null;
  private readonly baseUrl: string;
  private readonly store: RefreshTokenStore;
  onSignedOut: (() => void) | undefined;

  constructor(options: ApiClientOptions) {
    this.baseUrl = options.baseUrl ?? '';
    this.store = options.store;
    this.onSignedOut = options.onSignedOut;
  }

  /** Whether a refresh token is stored (a reload can resume without a login). */
  hasRefreshToken(): boolean {
    return this.store.get() !== null;
  }

  /** Signs in with a password; a member with two-factor sign-in gets the second step to take. */
  async login(email: string, password: string): Promise<SignInStep> {
    const answer = await this.publicRequest('/v1/auth/login', loginAnswerSchema, { email, password });
    if ('accessToken' in answer) {
      this.accept(answer);
      return { kind: 'signed-in' };
    }
    return answer.status === 'two_factor_required'
      ? { kind: 'two-factor', challenge: answer.challenge }
      : { kind: 'enrol', enrolmentToken: answer.enrolmentToken };
  }

  /** The sign-in's second step: the challenge and a code (or a recovery code). */
  async verifyTwoFactor(challenge: string, code: string): Promise<void> {
    this.accept(await this.publicRequest('/v1/auth/two-factor/verify', tokenPairSchema, { challenge, code }));
  }

  /** Signs in with tokens another call returned (a required enrolment's confirmation). */
  signInWith(tokens: TokenPair): void {
    this.accept(tokens);
  }

  /** Finishes a single sign-on with the provider's answer (the callback page's query string). */
  async ssoSignIn(query: string): Promise<void> {
    const res = await fetch(`${this.baseUrl}/v1/auth/sso/callback`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      // The httpOnly cookie set by /v1/auth/sso/start goes along (same origin).
      credentials: 'same-origin',
      body: JSON.stringify({ query }),
    });
    this.accept(await parse(res, tokenPairSchema));
  }

  /** A call of a public route (no access token): the accept-invite page's. */
  async publicRequest<S extends z.ZodType>(path: string, schema: S, body: unknown): Promise<z.infer<S>> {
    const res = await fetch(`${this.baseUrl}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return parse(res, schema);
  }

  async logout(): Promise<void> {
    const token = this.store.get();
    this.accessToken = null;
    this.store.set(null);
    if (token) {
      await fetch(`${this.baseUrl}/v1/auth/logout`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ refreshToken: token }),
      }).catch(() => undefined);
    }
    this.onSignedOut?.();
  }

  /** Rotates the refresh token; false when it no longer works (the caller is signed out). */
  refresh(): Promise<boolean> {
    this.refreshing ??= (async () => {
      const token = this.store.get();
      if (!token) return false;
      try {
        const res = await fetch(`${this.baseUrl}/v1/auth/refresh`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ refreshToken: token }),
        });
        if (res.status === 400 || res.status === 401) {
          this.accessToken = null;
          this.store.set(null);
          this.onSignedOut?.();
          return false;
        }
        this.accept(await parse(res, tokenPairSchema));
        return true;
      } finally {
        this.refreshing = null;
      }
    })();
    return this.refreshing;
  }

  private accept(tokens: TokenPair): void {
    this.accessToken = tokens.accessToken;
    this.store.set(tokens.refreshToken);
  }

  /** fetch with the access token; a 401 refreshes once and retries. The raw Response (for streams). */
  async fetch(method: string, path: string, options: RequestOptions = {}): Promise<Response> {
    if (!this.accessToken && !(await this.refresh())) {
      throw new ApiRequestError(401, 'unauthenticated', 'signed out');
    }
    const send = () => {
      const headers: Record<string, string> = { ...options.headers };
      if (this.accessToken) headers.authorization = `Bearer ${this.accessToken}`;
      let body: BodyInit | undefined;
      if (options.form) body = options.form;
      else if (options.body !== undefined) {
        headers['content-type'] = 'application/json';
        body = JSON.stringify(options.body);
      }
      return fetch(`${this.baseUrl}${path}`, {
        method,
        headers,
        ...(body !== undefined ? { body } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      });
    };
    let res = await send();
    if (res.status === 401) {
      if (!(await this.refresh())) throw new ApiRequestError(401, 'unauthenticated', 'signed out');
      res = await send();
    }
    return res;
  }

  /** A JSON request whose answer is parsed with `schema` (204 answers undefined). */
  async request<S extends z.ZodType>(
    method: string,
    path: string,
    schema: S,
    options: RequestOptions = {},
  ): Promise<z.infer<S>> {
    return parse(await this.fetch(method, path, options), schema);
  }

  /** A request answering 204 (or whose body is not needed). */
  async send(method: string, path: string, options: RequestOptions = {}): Promise<void> {
    const res = await this.fetch(method, path, options);
    if (!res.ok) throw await errorOf(res);
    await res.body?.cancel();
  }
}

async function errorOf(res: Response): Promise<ApiRequestError> {
  const text = await res.text();
  try {
    const parsed = errorBodySchema.safeParse(JSON.parse(text));
    if (parsed.success)
      return new ApiRequestError(res.status, parsed.data.error.code, parsed.data.error.message);
  } catch {
    // not JSON: fall through to the generic error
  }
  return new ApiRequestError(res.status, 'http_error', `the API answered ${res.status}`);
}

async function parse<S extends z.ZodType>(res: Response, schema: S): Promise<z.infer<S>> {
  if (!res.ok) throw await errorOf(res);
  if (res.status === 204) return schema.parse(undefined);
  const json: unknown = await res.json();
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ApiRequestError(
      res.status,
      'unexpected_response',
      `the API's answer did not have the expected shape (${issue?.path.join('.') || 'body'}: ${issue?.message})`,
    );
  }
  return parsed.data;
}

/** A short message for an error thrown by the client (or anything else). */
export function describeError(error: unknown): string {
  if (error instanceof ApiRequestError) return error.message;
  if (error instanceof Error) return error.message;
  return String(error);
}
