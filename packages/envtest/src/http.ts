import { request as httpsRequest, type RequestOptions } from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import { EnvtestError } from './errors.ts';

/** One request to the API server, made with a KubeConfig's credentials. */
export interface KubeRequest {
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Path and query, e.g. `/api/v1/namespaces?limit=1`. */
  path: string;
  /** Sent as JSON unless it is a string. */
  body?: unknown;
  /** Defaults to application/json; use application/apply-patch+yaml or application/merge-patch+json for patches. */
  contentType?: string;
}

/** The API server's answer: status code, raw text and the parsed JSON body when there is one. */
export interface KubeResponse<T = unknown> {
  status: number;
  text: string;
  body: T;
}

/**
 * Sends a request with the KubeConfig's TLS client certificate, CA and impersonation headers.
 * The generated client-node APIs cover typed resources; this covers discovery, subresources
 * and arbitrary kinds (for the garbage-collector stand-in) with one small function.
 */
export async function kubeRequest<T = unknown>(kc: KubeConfig, req: KubeRequest): Promise<KubeResponse<T>> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new EnvtestError('NOT_CONFIGURED', 'the KubeConfig has no current cluster');
  const options: RequestOptions = { headers: {} };
  await kc.applyToHTTPSOptions(options);
  const payload =
    req.body === undefined ? undefined : typeof req.body === 'string' ? req.body : JSON.stringify(req.body);
  const url = new URL(req.path, cluster.server);
  return new Promise((resolve, reject) => {
    const call = httpsRequest(
      url,
      {
        ...options,
        method: req.method ?? 'GET',
        headers: {
          ...options.headers,
          accept: 'application/json',
          ...(payload === undefined ? {} : { 'content-type': req.contentType ?? 'application/json' }),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
        });
        res.on('end', () => {
          let body: unknown = text;
          try {
            body = JSON.parse(text);
          } catch {
            // Not JSON (e.g. /readyz's "ok"): keep the text.
          }
          resolve({ status: res.statusCode ?? 0, text, body: body as T });
        });
        res.on('error', reject);
      },
    );
    call.on('error', reject);
    call.setTimeout(30_000, () =>
      call.destroy(new Error(`request ${req.method ?? 'GET'} ${req.path} timed out`)),
    );
    call.end(payload);
  });
}

/** Like kubeRequest, but throws the server's own message for anything other than 2xx. */
export async function kubeRequestOk<T = unknown>(kc: KubeConfig, req: KubeRequest): Promise<T> {
  const response = await kubeRequest<T>(kc, req);
  if (response.status < 200 || response.status >= 300) {
    const message = (response.body as { message?: string } | undefined)?.message ?? response.text;
    throw new EnvtestError(
      'KUBE_REQUEST_FAILED',
      `${req.method ?? 'GET'} ${req.path} failed with ${response.status}: ${message}`,
      { output: response.text },
    );
  }
  return response.body;
}
