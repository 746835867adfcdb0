import { redisNamespace, redisOptions } from '@switchboard/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { describeChannelConformance, type ProviderSentMessage } from '../conformance.ts';
import { CloudApiChannel } from './adapter.ts';
import {
  type EmulatorProcess,
  type LooseJson,
  SignedWebhookReceiver,
  startEmulatorProcess,
} from './testing.ts';

// The emulator runs as its own process (through its CLI); webhooks come back to a receiver here
// that checks the signature like the tenant API and hands the payload to the live channel.
const TOKEN = 'conformance-token';
const SECRET = 'conformance-secret';
const PHONE_NUMBER_ID = '106540352242922';
const ns = redisNamespace('channels-cloud-conformance');
let redis: Redis;
let emulator: EmulatorProcess;
let receiver: SignedWebhookReceiver;
let current: CloudApiChannel | undefined;
let peerCounter = 0;
let sessionCounter = 0;

beforeAll(async () => {
  redis = new Redis(redisOptions());
  receiver = new SignedWebhookReceiver(SECRET, (payload) => current?.handleWebhook(payload));
  await receiver.start();
  emulator = await startEmulatorProcess({
    token: TOKEN,
    appSecret: SECRET,
    phoneNumberId: PHONE_NUMBER_ID,
    displayPhoneNumber: '15551230000',
    webhookUrl: receiver.url,
    manualStatuses: true,
  });
});
afterAll(async () => {
  await emulator?.stop();
  await receiver?.stop();
  redis?.disconnect();
  await ns.cleanup();
});

describeChannelConformance({
  name: 'Cloud API (emulator)',
  kind: 'cloud-api',
  async create() {
    // A fresh recipient per test: the emulator is shared by the file, so sent() filters by it.
    const peer = `55119777${String(++peerCounter).padStart(5, '0')}`;
    const fenceKey = `${ns.prefix}:session-${++sessionCounter}:fence`;
    await redis.set(fenceKey, '3');
    const channel = new CloudApiChannel({
      sessionId: `cloud-session-${sessionCounter}`,
      phoneNumberId: PHONE_NUMBER_ID,
      accessToken: TOKEN,
      baseUrl: emulator.url,
      graphVersion: 'v23.0',
      epoch: 3n,
      readFence: async () => BigInt((await redis.get(fenceKey)) ?? '0'),
    });
    current = channel;
    return {
      channel,
      async cleanup() {
        if (current === channel) current = undefined;
      },
      provider: {
        peer,
        async goOnline() {
          // Nothing to open: connect() itself verified the number.
        },
        async deliverText({ providerMessageId, text, replyTo }) {
          const r = await emulator.control('POST', '/_emulator/customer/messages', {
            from: peer,
            id: providerMessageId,
            text,
            ...(replyTo ? { replyTo } : {}),
          });
          if (!r.delivery.delivered) throw new Error('webhook not delivered');
        },
        async deliverReceipt({ providerMessageId, status }) {
          await emulator.control(
            'POST',
            `/_emulator/messages/${encodeURIComponent(providerMessageId)}/status`,
            { status },
          );
        },
        async sent(): Promise<ProviderSentMessage[]> {
          const { messages } = await emulator.control<{ messages: LooseJson[] }>(
            'GET',
            `/_emulator/sent?to=${peer}`,
          );
          return messages.map((m) => ({
            to: m.to,
            providerMessageId: m.id,
            ...(m.request.text ? { text: m.request.text.body } : {}),
            ...(m.request.context ? { replyTo: m.request.context.message_id } : {}),
          }));
        },
        async claimElsewhere() {
          await redis.set(fenceKey, '4');
        },
      },
    };
  },
});
