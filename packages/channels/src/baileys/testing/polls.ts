import { createHash, randomBytes } from 'node:crypto';
import { aesEncryptGCM, hmacSign, proto } from '@whiskeysockets/baileys';

/**
 * A poll vote as a voter's WhatsApp client encrypts it: the key derivation and AES-GCM of
 * Baileys' own `decryptPollVote`, run forwards with Baileys' crypto helpers, over a real
 * `PollVoteMessage` whose options are the SHA-256 of their names.
 */
export function encryptPollVote(input: {
  pollMessageId: string;
  pollCreatorJid: string;
  voterJid: string;
  /** The poll's messageSecret. */
  secret: Uint8Array;
  selectedOptions: string[];
}): { encPayload: Buffer; encIv: Buffer } {
  const sign = Buffer.concat([
    Buffer.from(input.pollMessageId),
    Buffer.from(input.pollCreatorJid),
    Buffer.from(input.voterJid),
    Buffer.from('Poll Vote'),
    new Uint8Array([1]),
  ]);
  const key0 = hmacSign(input.secret, new Uint8Array(32), 'sha256');
  const key = hmacSign(sign, key0, 'sha256');
  const plaintext = proto.Message.PollVoteMessage.encode({
    selectedOptions: input.selectedOptions.map((o) => createHash('sha256').update(Buffer.from(o)).digest()),
  }).finish();
  const encIv = randomBytes(12);
  const aad = Buffer.from(`${input.pollMessageId}\u0000${input.voterJid}`);
  return { encPayload: aesEncryptGCM(plaintext, key, encIv, aad), encIv };
}

/**
 * The `message` of a vote on poll `pollKey` (for {@link wireMessage}): a `pollUpdateMessage`
 * with the encrypted vote, as WhatsApp delivers it.
 */
export function pollVoteMessage(input: {
  pollKey: { remoteJid: string; id: string; fromMe: boolean };
  pollCreatorJid: string;
  voterJid: string;
  secret: Uint8Array;
  selectedOptions: string[];
}): Record<string, unknown> {
  const vote = encryptPollVote({ ...input, pollMessageId: input.pollKey.id });
  return {
    pollUpdateMessage: {
      pollCreationMessageKey: input.pollKey,
      vote,
      senderTimestampMs: Date.now(),
    },
  };
}
