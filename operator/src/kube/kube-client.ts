import { Agent } from 'node:https';
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import { apiRequest } from '../runtime/api-request.ts';
import { ApiStatusError } from '../runtime/errors.ts';
import { TokenBucket } from '../runtime/rate-limiter.ts';
import { type ResourceType, resourcePath, resourceType } from './resources.ts';

/**
 * A small REST client for the objects the operator manages: get, list, create, server-side
 * apply, merge-patch (also of the status subresource) and delete, with the KubeConfig's
 * credentials. client-node's generic object API has no subresources and runs discovery per
 * kind; this client knows its kinds (resources.ts), so a reconcile's requests are exactly the
 * ones it makes, and it counts them by verb (the steady-state test asserts zero writes).
 *
 * Every request first takes a token from a client-side bucket (client-go's QPS/Burst), so a
 * burst of reconciles cannot flood the API server; the server's own priority and fairness
 * still applies on top.
 */

/** The HTTP verbs the client sends, as counted in `requests`. */
export type KubeVerb = 'get' | 'list' | 'create' | 'apply' | 'patch' | 'delete';

/** Verbs that change something on the server. */
export const WRITE_VERBS: readonly KubeVerb[] = ['create', 'apply', 'patch', 'delete'];

/** An error answer from the API server, with its HTTP status and reason. */
export class KubeApiError extends Error {
  /** Stable code for logs and metrics. */
  readonly code = 'KUBE_API_ERROR';
  /** HTTP status of the answer (404, 409, 422, ...). */
  readonly status: number;
  /** The Status object's reason, e.g. NotFound, AlreadyExists, Conflict, Invalid. */
  readonly reason: string;
  /** The Status object's message, as the API server wrote it. */
  readonly apiMessage: string;

  constructor(verb: KubeVerb, path: string, status: number, reason: string, message: string) {
    super(`${verb} ${path}: ${status} ${reason}: ${message}`);
    this.name = 'KubeApiError';
    this.status = status;
    this.reason = reason;
    this.apiMessage = message;
  }
}

/** True for a 404 from the API server. */
export function isNotFound(error: unknown): boolean {
  return error instanceof KubeApiError && error.status === 404;
}

/** True for a 409 AlreadyExists (a create lost a race, or the object is there already). */
export function isAlreadyExists(error: unknown): boolean {
  return error instanceof KubeApiError && error.status === 409 && error.reason === 'AlreadyExists';
}

/** Options for KubeClient. */
export interface KubeClientOptions {
  /** Credentials and server. */
  kubeConfig: KubeConfig;
  /** The field manager of server-side applies and patches. */
  fieldManager: string;
  /** Per-request timeout; default 30 s. */
  timeoutMs?: number;
  /**
   * Client-side rate limit: sustained requests per second and burst (client-go's QPS and
   * Burst; controller-runtime's defaults are 20 and 30). qps 0 turns it off.
   */
  rateLimit?: { qps: number; burst: number };
  /** Connections kept to the API server; default 32. */
  maxSockets?: number;
  /**
   * Told when a create, apply or patch of an object starts and how it ended (the server's
   * answer, or undefined on failure), so a cache can tell its own writes from others' (by
   * resourceVersion), even when the watch delivers one before its answer arrives.
   */
  writeObserver?: WriteObserver;
}

/** Which object a write is for. */
export interface ObjectRef {
  apiVersion: string;
  kind: string;
  namespace: string | undefined;
  name: string;
}

/** See KubeClientOptions.writeObserver. */
export interface WriteObserver {
  writeStarted(ref: ObjectRef): void;
  writeEnded(ref: ObjectRef, answer: KubernetesObject | undefined): void;
}

/** Default client-side rate limit: controller-runtime's QPS 20, burst 30. */
export const DEFAULT_RATE_LIMIT = { qps: 20, burst: 30 } as const;

/** A list answer. */
export interface KubeList<T> {
  items: T[];
  metadata?: { resourceVersion?: string; continue?: string };
}

/** The REST client. One per process; it keeps connections alive. */
export class KubeClient {
  /** Requests sent, by verb, since construction (or the last resetCounts). */
  readonly requests: Record<KubeVerb, number> = { get: 0, list: 0, create: 0, apply: 0, patch: 0, delete: 0 };
  /** 409 answers (a lost create race, a failed patch precondition, a field-manager conflict). */
  conflicts = 0;
  private readonly kubeConfig: KubeConfig;
  private readonly fieldManager: string;
  private readonly timeoutMs: number;
  private readonly bucket: TokenBucket;
  private readonly writeObserver: WriteObserver | undefined;
  // Keep-alive: a reconcile makes dozens of requests, and a TLS handshake per request would
  // dominate its latency.
  private readonly agent: Agent;

  constructor(options: KubeClientOptions) {
    this.kubeConfig = options.kubeConfig;
    this.fieldManager = options.fieldManager;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.bucket = new TokenBucket(options.rateLimit ?? { qps: 0, burst: 1 });
    this.writeObserver = options.writeObserver;
    this.agent = new Agent({ keepAlive: true, maxSockets: options.maxSockets ?? 32 });
  }

  /** Writes (create, apply, patch, delete) sent so far. */
  get writes(): number {
    return WRITE_VERBS.reduce((sum, verb) => sum + this.requests[verb], 0);
  }

  /** Zeroes the request counters. */
  resetCounts(): void {
    for (const verb of Object.keys(this.requests) as KubeVerb[]) this.requests[verb] = 0;
    this.conflicts = 0;
  }

  /** The object, or undefined when it does not exist. */
  async get<T extends KubernetesObject>(
    apiVersion: string,
    kind: string,
    namespace: string | undefined,
    name: string,
  ): Promise<T | undefined> {
    try {
      return await this.send<T>('get', 'GET', this.path(apiVersion, kind, namespace, name));
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  /** Every object of a kind in a namespace (or all namespaces), optionally by label selector. */
  async list<T extends KubernetesObject>(
    apiVersion: string,
    kind: string,
    namespace: string | undefined,
    labelSelector?: string,
  ): Promise<T[]> {
    const base = this.path(apiVersion, kind, namespace);
    const items: T[] = [];
    let token: string | undefined;
    do {
      const query = new URLSearchParams({ limit: '500' });
      if (labelSelector) query.set('labelSelector', labelSelector);
      if (token) query.set('continue', token);
      const page = await this.send<KubeList<T>>('list', 'GET', `${base}?${query}`);
      // A list's items carry no apiVersion/kind; put them back so callers can treat them as objects.
      for (const item of page.items) items.push({ apiVersion, kind, ...item });
      token = page.metadata?.continue || undefined;
    } while (token);
    return items;
  }

  /** Creates the object; throws KubeApiError (isAlreadyExists) when it is there already. */
  async create<T extends KubernetesObject>(object: T): Promise<T> {
    const { apiVersion, kind, metadata } = requireIdentity(object);
    const query = new URLSearchParams({ fieldManager: this.fieldManager });
    return await this.send<T>(
      'create',
      'POST',
      `${this.path(apiVersion, kind, metadata.namespace)}?${query}`,
      {
        body: toWire(object),
        target: { apiVersion, kind, namespace: metadata.namespace, name: metadata.name },
      },
    );
  }

  /** Server-side apply under the field manager, taking ownership of conflicting fields (force). */
  async apply<T extends KubernetesObject>(object: T): Promise<T> {
    const { apiVersion, kind, metadata } = requireIdentity(object);
    const query = new URLSearchParams({ fieldManager: this.fieldManager, force: 'true' });
    return await this.send<T>(
      'apply',
      'PATCH',
      `${this.path(apiVersion, kind, metadata.namespace, metadata.name)}?${query}`,
      {
        body: toWire(object),
        contentType: 'application/apply-patch+yaml',
        target: { apiVersion, kind, namespace: metadata.namespace, name: metadata.name },
      },
    );
  }

  /** A JSON merge patch of the object, or of its status subresource. */
  async mergePatch<T extends KubernetesObject>(
    apiVersion: string,
    kind: string,
    namespace: string | undefined,
    name: string,
    patch: unknown,
    options: { subresource?: 'status' } = {},
  ): Promise<T> {
    const query = new URLSearchParams({ fieldManager: this.fieldManager });
    const sub = options.subresource ? `/${options.subresource}` : '';
    return await this.send<T>(
      'patch',
      'PATCH',
      `${this.path(apiVersion, kind, namespace, name)}${sub}?${query}`,
      {
        body: patch,
        contentType: 'application/merge-patch+json',
        target: { apiVersion, kind, namespace, name },
      },
    );
  }

  /** A JSON patch (RFC 6902): for finalizers, where a test op guards against lost updates. */
  async jsonPatch<T extends KubernetesObject>(
    apiVersion: string,
    kind: string,
    namespace: string | undefined,
    name: string,
    operations: unknown[],
  ): Promise<T> {
    const query = new URLSearchParams({ fieldManager: this.fieldManager });
    return await this.send<T>('patch', 'PATCH', `${this.path(apiVersion, kind, namespace, name)}?${query}`, {
      body: operations,
      contentType: 'application/json-patch+json',
      target: { apiVersion, kind, namespace, name },
    });
  }

  /** Deletes the object (background propagation); true when it was there. */
  async delete(
    apiVersion: string,
    kind: string,
    namespace: string | undefined,
    name: string,
  ): Promise<boolean> {
    try {
      await this.send('delete', 'DELETE', this.path(apiVersion, kind, namespace, name), {
        body: { kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy: 'Background' },
      });
      return true;
    } catch (error) {
      if (isNotFound(error)) return false;
      throw error;
    }
  }

  /** A GET of any path (discovery); undefined on 404. */
  async getPath<T>(path: string): Promise<T | undefined> {
    try {
      return await this.send<T>('get', 'GET', path);
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  /** Closes kept-alive connections. */
  close(): void {
    this.agent.destroy();
  }

  private path(apiVersion: string, kind: string, namespace: string | undefined, name?: string): string {
    const type: ResourceType = resourceType(apiVersion, kind);
    return resourcePath(type, namespace, name);
  }

  private async send<T>(
    verb: KubeVerb,
    method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
    path: string,
    options: { body?: unknown; contentType?: string; target?: ObjectRef } = {},
  ): Promise<T> {
    await this.bucket.take();
    this.requests[verb] += 1;
    const target = this.writeObserver ? options.target : undefined;
    if (target) this.writeObserver!.writeStarted(target);
    let answered: KubernetesObject | undefined;
    try {
      const answer = await apiRequest<T>(this.kubeConfig, {
        method,
        path,
        ...(options.body === undefined ? {} : { body: options.body }),
        contentType: options.contentType ?? 'application/json',
        agent: this.agent,
        timeoutMs: this.timeoutMs,
      });
      if (isObject(answer)) answered = answer;
      return answer;
    } catch (error) {
      if (!(error instanceof ApiStatusError)) throw error;
      if (error.statusCode === 409) this.conflicts += 1;
      throw new KubeApiError(
        verb,
        path,
        error.statusCode,
        error.status?.reason ?? 'Unknown',
        error.status?.message ?? '',
      );
    } finally {
      if (target) this.writeObserver!.writeEnded(target, answered);
    }
  }
}

// client-node's model classes rename fields that are reserved words in TypeScript (`from` is
// `_from` on a NetworkPolicy rule); its ObjectSerializer maps them back but is not exported.
// No Kubernetes field starts with an underscore, so renaming these keys is exact.
const MODEL_RENAMES: Readonly<Record<string, string>> = {
  _from: 'from',
  _continue: 'continue',
  _default: 'default',
  _enum: 'enum',
  _not: 'not',
};

/** The object as the API server spells it: client-node model field names mapped to the wire's. */
export function toWire(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(toWire);
  if (value === null || typeof value !== 'object' || value instanceof Date) return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .map(([key, v]) => [MODEL_RENAMES[key] ?? key, toWire(v)]),
  );
}

function isObject(value: unknown): value is KubernetesObject {
  return typeof value === 'object' && value !== null && 'metadata' in value;
}

function requireIdentity(object: KubernetesObject): {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
} {
  const { apiVersion, kind, metadata } = object;
  if (!apiVersion || !kind || !metadata?.name) {
    throw new Error('an object to write needs apiVersion, kind and metadata.name');
  }
  return { apiVersion, kind, metadata: { name: metadata.name, namespace: metadata.namespace } };
}
