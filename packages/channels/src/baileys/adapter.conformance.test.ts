import { redisNamespace, redisOptions } from '@switchboard/testing';
import { proto } from '@whiskeysockets/baileys';
import { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { describeChannelConformance, type ProviderSentMessage } from '../conformance.ts';
import { createStandInChannel } from './testing/harness.ts';
import { wireMessage } from './testing/messages.ts';

const ns = redisNamespace('channels-conformance');
const keyPrefix = `${ns.prefix}:`;
let redis: Redis;
const PEER = '5511966665555';

beforeAll(() => {
  redis = new Redis(redisOptions());
});
afterAll(async () => {
  redis?.disconnect();
  await ns.cleanup();
});

describeChannelConformance({
  name: 'Baileys (socket stand-in)',
  kind: 'baileys',
  async create() {
    const t = await createStandInChannel({
      redis,
      keyPrefix,
      epoch: 3n,
      paired: { phoneNumber: '5511900000009', lid: '700000000000009' },
    });
    const peerJid = `${PEER}@s.whatsapp.net`;
    return {
      channel: t.channel,
      async cleanup() {
        t.log.detach();
      },
      provider: {
        peer: PEER,
        async goOnline() {
          (await t.standIn.socket(1)).open();
        },
        async deliverText({ providerMessageId, text, replyTo }) {
          const message = replyTo
            ? {
                extendedTextMessage: {
                  text,
                  contextInfo: { stanzaId: replyTo, participant: '5511900000009@s.whatsapp.net' },
                },
              }
            : { conversation: text };
          t.standIn.current.receive([
            wireMessage({ key: { remoteJid: peerJid, id: providerMessageId, fromMe: false }, message }),
          ]);
        },
        async deliverReceipt({ providerMessageId, status }) {
          const { Status } = proto.WebMessageInfo;
          t.standIn.current.updateMessages([
            {
              key: { remoteJid: peerJid, id: providerMessageId, fromMe: true },
              update: { status: status === 'read' ? Status.READ : Status.DELIVERY_ACK },
            },
          ]);
        },
        sent(): ProviderSentMessage[] {
          return t.standIn.sockets.flatMap((socket) =>
            socket.sent.map(({ jid, message }) => {
              const body = message.message;
              const text = body?.conversation ?? body?.extendedTextMessage?.text ?? undefined;
              const replyTo = body?.extendedTextMessage?.contextInfo?.stanzaId ?? undefined;
              return {
                to: jid,
                providerMessageId: message.key.id!,
                ...(text ? { text } : {}),
                ...(replyTo ? { replyTo } : {}),
              };
            }),
          );
        },
        async claimElsewhere() {
          await redis.set(t.channel.keys.fence, '4');
        },
      },
    };
  },
});
