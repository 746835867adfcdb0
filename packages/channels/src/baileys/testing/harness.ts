import { randomUUID } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { ChannelEventLog } from '../../testing.ts';
import { BaileysChannel } from '../adapter.ts';
import type { BaileysChannelOptions } from '../options.ts';
import { ManualScheduler } from './scheduler.ts';
import { seedPairedSession } from './seed.ts';
import { BaileysStandIn, type PairingIdentity } from './stand-in.ts';

/** A Baileys channel wired to the stand-in, with its event log and a hand-run scheduler. */
export interface StandInChannel {
  channel: BaileysChannel;
  standIn: BaileysStandIn;
  scheduler: ManualScheduler;
  log: ChannelEventLog;
  sessionId: string;
  /** The pairing identity, when the session was seeded as paired. */
  identity?: PairingIdentity;
}

/** Options for {@link createStandInChannel}. */
export interface StandInChannelOptions extends Partial<Omit<BaileysChannelOptions, 'redis' | 'keyPrefix'>> {
  redis: Redis | Cluster;
  keyPrefix: string;
  /** Seed the session as already linked to this identity. */
  paired?: PairingIdentity;
}

/** Creates a channel whose sockets are stand-ins (default epoch 1; the fence is set to it). */
export async function createStandInChannel(options: StandInChannelOptions): Promise<StandInChannel> {
  const { paired, ...rest } = options;
  const sessionId = options.sessionId ?? randomUUID();
  const epoch = options.epoch ?? 1n;
  const standIn = new BaileysStandIn();
  const scheduler = new ManualScheduler();
  await options.redis.set(`${options.keyPrefix}session:${sessionId}:fence`, String(epoch));
  if (paired)
    await seedPairedSession({
      redis: options.redis,
      keyPrefix: options.keyPrefix,
      sessionId,
      epoch,
      ...paired,
    });
  const channel = await BaileysChannel.create({
    socketFactory: standIn.factory,
    scheduler,
    ...rest,
    sessionId,
    epoch,
  });
  const log = new ChannelEventLog(channel);
  return { channel, standIn, scheduler, log, sessionId, ...(paired ? { identity: paired } : {}) };
}

/** What opening a held session's channel needs of it (the worker's `OwnedSession` fits). */
export interface HeldSessionRef {
  sessionId: string;
  fence: { epoch: bigint | number };
}

/** Options for {@link standInChannelFactory}. */
export interface StandInChannelFactoryOptions {
  redis: Redis | Cluster;
  keyPrefix: string;
  /** Gets each new channel's stand-in: what WhatsApp's servers are for its sockets. */
  onStandIn: (sessionId: string, standIn: BaileysStandIn) => void;
}

/**
 * A worker's `createChannel` whose Baileys channels run on stand-in sockets: each held session
 * gets a channel under the claim's epoch over a new stand-in, handed to `onStandIn`.
 */
export function standInChannelFactory(
  options: StandInChannelFactoryOptions,
): (session: HeldSessionRef) => Promise<BaileysChannel> {
  return async (session) => {
    const standIn = new BaileysStandIn();
    options.onStandIn(session.sessionId, standIn);
    return await BaileysChannel.create({
      sessionId: session.sessionId,
      redis: options.redis,
      keyPrefix: options.keyPrefix,
      epoch: session.fence.epoch,
      socketFactory: standIn.factory,
    });
  };
}
