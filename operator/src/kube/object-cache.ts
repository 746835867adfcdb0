import type { KubernetesObject } from '@kubernetes/client-node';
import type { Informer } from '../runtime/informer.ts';
import type { ObjectRef, WriteObserver } from './kube-client.ts';

/**
 * Reads from the informers' caches instead of the API server, as controller-runtime's
 * cache-backed client does, and tells the operator's own writes from everyone else's.
 *
 * - `get` answers from the informer that watches the kind in that namespace (the operator's
 *   children, selected by the managed-by label, and the tenants). A kind no informer watches
 *   (a tenant's own Secrets) is read from the API server.
 * - Every create, apply and patch the operator makes is remembered with the resourceVersion the
 *   server answered, until the watch delivers that version. Meanwhile `get` returns the written
 *   object (the cache is older than what the operator just wrote), and `observe` reports the
 *   watch event that echoes it as the operator's own, so the controller does not reconcile the
 *   tenant again for a change it made itself. The watch often delivers the echo before the
 *   write's answer arrives: an event for an object with a write in flight is held until the
 *   answer, then dropped when it is the echo and passed on when it is not.
 *
 * resourceVersions are compared as numbers: the API server hands out etcd revisions, which
 * only grow. A version that is not a number (another storage) makes the cache authoritative.
 */

/** What the reconcile reads objects through: the cache, or the API server (tests). */
export interface ObjectReader {
  get<T extends KubernetesObject>(
    apiVersion: string,
    kind: string,
    namespace: string | undefined,
    name: string,
  ): Promise<T | undefined>;
}

/** An informer and what it holds. */
interface Source {
  informer: Informer<KubernetesObject>;
  /** Namespace it watches; all when undefined. */
  namespace: string | undefined;
}

const objectId = (apiVersion: string, kind: string, namespace: string | undefined, name: string) =>
  `${apiVersion}/${kind}/${namespace ?? ''}/${name}`;

const idOf = (object: KubernetesObject) =>
  objectId(
    object.apiVersion ?? '',
    object.kind ?? '',
    object.metadata?.namespace,
    object.metadata?.name ?? '',
  );

function revision(object: KubernetesObject | undefined): bigint | undefined {
  const value = object?.metadata?.resourceVersion;
  if (!value || !/^\d+$/.test(value)) return undefined;
  return BigInt(value);
}

/** True when `a` is a later version than `b` (both with numeric resourceVersions). */
function newer(a: KubernetesObject, b: KubernetesObject): boolean {
  const ra = revision(a);
  const rb = revision(b);
  return ra !== undefined && rb !== undefined && ra > rb;
}

/** The informer caches plus the operator's writes not yet seen on a watch. */
export class ObjectCache implements ObjectReader, WriteObserver {
  private readonly sources = new Map<string, Source[]>();
  private readonly written = new Map<string, KubernetesObject>();
  /** Writes in flight, by object. */
  private readonly inFlight = new Map<string, number>();
  /** Events that came while a write to their object was in flight: resourceVersion, and how to pass them on. */
  private readonly held = new Map<string, { resourceVersion: string | undefined; pass: () => void }[]>();
  private readonly fallback: ObjectReader;

  /** `fallback` answers for kinds (or namespaces) no informer watches. */
  constructor(fallback: ObjectReader) {
    this.fallback = fallback;
  }

  /** Serves `apiVersion`/`kind` in `namespace` (all when undefined) from `informer`. */
  register(
    informer: Informer<KubernetesObject>,
    type: { apiVersion: string; kind: string; namespace?: string | undefined },
  ): void {
    const key = `${type.apiVersion}/${type.kind}`;
    const list = this.sources.get(key) ?? [];
    list.push({ informer, namespace: type.namespace });
    this.sources.set(key, list);
  }

  /** True when an informer holds this kind in this namespace (reads of it cost no request). */
  watches(apiVersion: string, kind: string, namespace: string | undefined): boolean {
    return this.source(apiVersion, kind, namespace) !== undefined;
  }

  /** The object from the cache (or the operator's newer write of it); undefined when absent. */
  async get<T extends KubernetesObject>(
    apiVersion: string,
    kind: string,
    namespace: string | undefined,
    name: string,
  ): Promise<T | undefined> {
    const source = this.source(apiVersion, kind, namespace);
    if (!source) return await this.fallback.get<T>(apiVersion, kind, namespace, name);
    const cached = source.informer.get(namespace ? `${namespace}/${name}` : name);
    const own = this.written.get(objectId(apiVersion, kind, namespace, name));
    if (own && (!cached || newer(own, cached))) return own as T;
    return cached as T | undefined;
  }

  /** Remembers the server's answer to one of the operator's own writes (KubeClient's onWrite). */
  recordWrite(object: KubernetesObject): void {
    if (revision(object) === undefined) return;
    const { apiVersion, kind, metadata } = object;
    const source = this.source(apiVersion ?? '', kind ?? '', metadata?.namespace);
    if (!source) return;
    const cached = source.informer.get(
      metadata?.namespace ? `${metadata.namespace}/${metadata?.name}` : (metadata?.name ?? ''),
    );
    // A write that changed nothing answers with the version the cache already has.
    if (cached && !newer(object, cached)) return;
    this.written.set(idOf(object), object);
  }

  /** A write of `ref` is being sent (KubeClient's writeObserver). */
  writeStarted(ref: ObjectRef): void {
    const id = objectId(ref.apiVersion, ref.kind, ref.namespace, ref.name);
    this.inFlight.set(id, (this.inFlight.get(id) ?? 0) + 1);
  }

  /** A write of `ref` ended with `answer` (undefined: it failed); releases the events held for it. */
  writeEnded(ref: ObjectRef, answer: KubernetesObject | undefined): void {
    const id = objectId(ref.apiVersion, ref.kind, ref.namespace, ref.name);
    const left = (this.inFlight.get(id) ?? 1) - 1;
    if (left > 0) this.inFlight.set(id, left);
    else this.inFlight.delete(id);
    if (answer) this.recordWrite(answer);
    if (left > 0) return;
    const held = this.held.get(id) ?? [];
    this.held.delete(id);
    for (const event of held) {
      const own = this.written.get(id);
      if (own && own.metadata?.resourceVersion === event.resourceVersion) {
        this.written.delete(id);
      } else if (answer?.metadata?.resourceVersion !== event.resourceVersion) {
        event.pass();
      }
    }
  }

  /** Forgets a write (the object was deleted by the operator). */
  forget(apiVersion: string, kind: string, namespace: string | undefined, name: string): void {
    this.written.delete(objectId(apiVersion, kind, namespace, name));
  }

  /**
   * Called for every watch event before it enqueues anything: true when the event is the
   * echo of the operator's own write (and then drops the remembered write, since the cache
   * now has it), or when it is held because a write of its object is in flight (`pass` runs
   * later unless it turns out to be the echo); false for everyone else's changes and deletions.
   */
  observe(type: 'add' | 'update' | 'delete', object: KubernetesObject, pass?: () => void): boolean {
    const id = idOf(object);
    if (pass && type !== 'delete' && this.inFlight.has(id)) {
      const list = this.held.get(id) ?? [];
      list.push({ resourceVersion: object.metadata?.resourceVersion, pass });
      this.held.set(id, list);
      return true;
    }
    const own = this.written.get(id);
    if (!own) return false;
    if (type === 'delete') {
      this.written.delete(id);
      return false;
    }
    const echo = own.metadata?.resourceVersion === object.metadata?.resourceVersion;
    if (echo || !newer(own, object)) this.written.delete(id);
    return echo;
  }

  /** Writes remembered and not yet seen on a watch (for tests and debugging). */
  pendingWrites(): number {
    return this.written.size;
  }

  private source(apiVersion: string, kind: string, namespace: string | undefined): Source | undefined {
    const list = this.sources.get(`${apiVersion}/${kind}`);
    return list?.find(
      (s) => (s.namespace === undefined || s.namespace === namespace) && s.informer.hasSynced(),
    );
  }
}
