import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { CloudApiInboundJob } from '@switchboard/messaging';
import type { Queue } from 'bullmq';

/**
 * Test-only: the API's Cloud API webhook route reduced to what it must do for the worker's tests:
 * verify X-Hub-Signature-256 over the raw bytes (timing-safe), put the payload on the
 * cloud-api-inbound queue under the SHA-256 of the body, answer.
 */
export interface MetaReceiver {
  /** Where Meta (the emulator) posts. */
  url: string;
  /** How many posts had a signature that did not match. */
  rejected(): number;
  close(): Promise<void>;
}

export async function startMetaReceiver(options: {
  appSecret: string;
  tenantId: string;
  queue: Queue;
}): Promise<MetaReceiver> {
  let rejected = 0;
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const raw = Buffer.concat(chunks);
      const expected = Buffer.from(
        `sha256=${createHmac('sha256', options.appSecret).update(raw).digest('hex')}`,
      );
      const given = Buffer.from(String(request.headers['x-hub-signature-256'] ?? ''));
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
        rejected++;
        response.writeHead(401).end();
        return;
      }
      const job: CloudApiInboundJob = {
        tenantId: options.tenantId,
        receivedAt: new Date().toISOString(),
        payload: JSON.parse(raw.toString('utf8')),
      };
      void options.queue.add('payload', job, { jobId: createHash('sha256').update(raw).digest('hex') }).then(
        () => response.writeHead(200).end(),
        () => response.writeHead(503).end(),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks/meta`,
    rejected: () => rejected,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
