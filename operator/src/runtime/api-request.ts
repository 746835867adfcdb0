import http from 'node:http';
import https from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import { ApiStatusError, type KubeStatus } from './errors.ts';

/** One request to the API server. */
export interface ApiRequestOptions {
  /** HTTP method; GET by default. */
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Path below the server URL, e.g. `/api/v1/namespaces/ns/configmaps`. */
  path: string;
  /** Query parameters; undefined values are left out. */
  query?: Record<string, string | number | boolean | undefined>;
  /** Sent as JSON. */
  body?: unknown;
  /** Content-Type of the body; default merge-patch for PATCH, JSON otherwise. */
  contentType?: string;
  /** Connection pool to send through (keep-alive); Node's global agent when absent. */
  agent?: https.Agent;
  /** Gives up after this many milliseconds (the request is destroyed). */
  timeoutMs?: number;
  /** Aborts the request. */
  signal?: AbortSignal;
}

/**
 * Sends a JSON request with the KubeConfig's credentials and returns the parsed body,
 * throwing `ApiStatusError` for a non-2xx answer. Raw JSON on purpose: client-node's typed
 * clients turn timestamps into Dates with millisecond precision (a Lease's MicroTime needs
 * six digits) and its generic `list` drops a custom resource list's `continue` token.
 */
export async function apiRequest<T>(kubeConfig: KubeConfig, options: ApiRequestOptions): Promise<T> {
  const cluster = kubeConfig.getCurrentCluster();
  if (!cluster) throw new Error('the KubeConfig has no current cluster');
  const url = new URL(cluster.server.replace(/\/+$/, '') + options.path);
  for (const [name, value] of Object.entries(options.query ?? {})) {
    if (value !== undefined) url.searchParams.set(name, String(value));
  }
  const requestOptions: https.RequestOptions = {};
  await kubeConfig.applyToHTTPSOptions(requestOptions);
  const method = options.method ?? 'GET';
  const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
  const signals = [
    options.signal,
    options.timeoutMs ? AbortSignal.timeout(options.timeoutMs) : undefined,
  ].filter((s): s is AbortSignal => s !== undefined);
  const headers: http.OutgoingHttpHeaders = {
    ...(requestOptions.headers as http.OutgoingHttpHeaders | undefined),
    accept: 'application/json',
  };
  if (payload !== undefined) {
    headers['content-type'] =
      options.contentType ?? (method === 'PATCH' ? 'application/merge-patch+json' : 'application/json');
    // An explicit length: Node sends a DELETE body without one (no chunked encoding for
    // DELETE), and on a kept-alive socket the server then reads that body as the start of the
    // next request.
    headers['content-length'] = Buffer.byteLength(payload);
  }
  const send = url.protocol === 'http:' ? http.request : https.request;

  const { statusCode, text } = await new Promise<{ statusCode: number; text: string }>((resolve, reject) => {
    const request = send(
      url,
      {
        ...requestOptions,
        method,
        headers,
        ...(options.agent ? { agent: options.agent } : {}),
        ...(signals.length > 0 ? { signal: AbortSignal.any(signals) } : {}),
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('error', reject);
        response.on('end', () =>
          resolve({ statusCode: response.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
        );
      },
    );
    request.on('error', reject);
    request.end(payload);
  });

  const parsed = parseJson(text);
  if (statusCode < 200 || statusCode >= 300) {
    const status = isStatus(parsed) ? parsed : { message: text.slice(0, 500) };
    throw new ApiStatusError(statusCode, status, `${method} ${options.path}`);
  }
  return parsed as T;
}

function parseJson(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function isStatus(value: unknown): value is KubeStatus {
  return typeof value === 'object' && value !== null && (value as { kind?: unknown }).kind === 'Status';
}

/** The statusCode of a `ApiStatusError`, or of client-node's `ApiException` (`code`), or undefined. */
export function statusCodeOf(error: unknown): number | undefined {
  if (error instanceof ApiStatusError) return error.statusCode;
  if (typeof error === 'object' && error !== null) {
    const { statusCode, code } = error as { statusCode?: unknown; code?: unknown };
    if (typeof statusCode === 'number') return statusCode;
    if (typeof code === 'number') return code;
  }
  return undefined;
}
