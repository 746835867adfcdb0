import type { AuthenticationCreds } from '@whiskeysockets/baileys';
import type { Cluster, Redis } from 'ioredis';
import type { AuthStateSealer } from '../auth-sealing.ts';
import { createRedisAuthState } from '../auth-state.ts';
import { type PairingIdentity, pairedCredsUpdate } from './stand-in.ts';

/** Stores creds of a linked device for the session (fresh keys plus a pair-success update). */
export async function seedPairedSession(
  options: {
    redis: Redis | Cluster;
    keyPrefix: string;
    sessionId: string;
    epoch: bigint | number;
    sealer?: AuthStateSealer;
  } & PairingIdentity,
): Promise<AuthenticationCreds> {
  const auth = await createRedisAuthState(options);
  Object.assign(auth.state.creds, pairedCredsUpdate(options));
  await auth.saveCreds();
  return auth.state.creds;
}
