/**
 * The conformance suite every {@link Channel} adapter runs (Baileys and the Cloud API): call
 * `describeChannelConformance(fixture)` from the adapter's test file with a driver for its
 * provider side (Baileys: the socket stand-in; Cloud API: the emulator). It checks the
 * port's contract only, nothing provider-specific. Test-only: it imports vitest, so it is not
 * exported from the package index.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Channel, ChannelKind, SessionState } from './channel.ts';
import { ChannelError, StaleEpochError } from './errors.ts';
import { ChannelEventLog } from './testing.ts';

/** What the provider received from the channel. */
export interface ProviderSentMessage {
  /** Where it went, as the provider spells it. */
  to: string;
  text?: string;
  /** The provider id of the message it replies to. */
  replyTo?: string;
  providerMessageId: string;
}

/** The provider side of a channel under test, driven by the suite. */
export interface ProviderDriver {
  /** A contact's phone number (E.164 digits): inbound comes from it, sends go to it. */
  readonly peer: string;
  /** After connect(): makes the (already linked) session online the way the provider does. */
  goOnline(): Promise<void>;
  /** Delivers a text from `peer`, optionally replying to one of our messages. */
  deliverText(input: { providerMessageId: string; text: string; replyTo?: string }): Promise<void>;
  /** Delivers a receipt for a message the channel sent to `peer`. */
  deliverReceipt(input: { providerMessageId: string; status: 'delivered' | 'read' }): Promise<void>;
  /** Everything the provider received from the channel, oldest first (an HTTP provider answers asynchronously). */
  sent(): ProviderSentMessage[] | Promise<ProviderSentMessage[]>;
  /** Another worker claims the session: the fence moves past the channel's epoch. */
  claimElsewhere(): Promise<void>;
}

/** A fresh channel (linked, not connected) and its provider side. */
export interface ChannelUnderTest {
  channel: Channel;
  provider: ProviderDriver;
  /** Removes what the fixture created; the suite disconnects the channel itself. */
  cleanup(): Promise<void>;
}

/** How the suite gets a channel for each test. */
export interface ChannelFixture {
  /** Shown in the suite's name. */
  name: string;
  kind: ChannelKind;
  create(): Promise<ChannelUnderTest>;
}

const NOT_CONNECTED_STATES: SessionState[] = ['unpaired', 'disconnected', 'logged_out'];

/** Registers the suite for one adapter. */
export function describeChannelConformance(fixture: ChannelFixture): void {
  describe(`Channel conformance: ${fixture.name}`, () => {
    const created: ChannelUnderTest[] = [];
    afterEach(async () => {
      for (const under of created.splice(0)) {
        await under.channel.disconnect();
        await under.cleanup();
      }
    });

    async function fresh(): Promise<ChannelUnderTest & { log: ChannelEventLog }> {
      const under = await fixture.create();
      created.push(under);
      return { ...under, log: new ChannelEventLog(under.channel) };
    }

    async function online() {
      const under = await fresh();
      await under.channel.connect();
      await under.provider.goOnline();
      await under.log.waitFor('state', (s) => s.state === 'connected');
      return under;
    }

    it('names its kind and starts out not connected', async () => {
      const { channel } = await fresh();
      expect(channel.kind).toBe(fixture.kind);
      expect(typeof channel.sessionId).toBe('string');
      expect(channel.sessionId.length).toBeGreaterThan(0);
      expect(NOT_CONNECTED_STATES).toContain(channel.state);
      expect(typeof channel.capabilities.pairing).toBe('boolean');
      expect(typeof channel.capabilities.persistentConnection).toBe('boolean');
    });

    it('rejects requestPairingCode on a linked session (ALREADY_PAIRED) or without pairing (PAIRING_UNSUPPORTED)', async () => {
      const { channel } = await fresh();
      const request = channel.requestPairingCode('5511999990000');
      if (channel.capabilities.pairing) {
        // A linked session has nothing to pair.
        await expect(request).rejects.toMatchObject({ code: 'ALREADY_PAIRED' });
      } else {
        await expect(request).rejects.toMatchObject({ code: 'PAIRING_UNSUPPORTED', unrecoverable: true });
      }
    });

    it('connects: state events reach connected, each naming the state before it', async () => {
      const under = await fresh();
      const initial = under.channel.state;
      await under.channel.connect();
      await under.channel.connect(); // idempotent while running
      await under.provider.goOnline();
      const connected = await under.log.waitFor('state', (s) => s.state === 'connected');
      expect(under.channel.state).toBe('connected');
      expect(connected.sessionId).toBe(under.channel.sessionId);
      expect(connected.at).toBeInstanceOf(Date);
      const changes = under.log.of('state');
      expect(changes[0]?.previous).toBe(initial);
      for (let i = 1; i < changes.length; i++) expect(changes[i]?.previous).toBe(changes[i - 1]?.state);
      expect(changes.filter((s) => s.state === 'connected')).toHaveLength(1);
    });

    it('turns an inbound text into one message event', async () => {
      const { provider, log, channel } = await online();
      await provider.deliverText({ providerMessageId: 'conformance-in-1', text: 'Olá, preciso de ajuda' });
      const message = await log.waitFor('message');
      expect(message).toMatchObject({
        sessionId: channel.sessionId,
        providerMessageId: 'conformance-in-1',
        fromMe: false,
        content: { type: 'text', text: 'Olá, preciso de ajuda' },
      });
      expect(message.timestamp).toBeInstanceOf(Date);
      expect(message.sender.pn).toBe(provider.peer);
      expect(message.sender.address.length).toBeGreaterThan(0);
      expect(message.chat.kind).toBe('direct');
      expect(log.of('message')).toHaveLength(1);
    });

    it('carries the replied-to message id of an inbound reply', async () => {
      const { provider, log } = await online();
      await provider.deliverText({
        providerMessageId: 'conformance-in-2',
        text: 'yes',
        replyTo: 'conformance-out-0',
      });
      const message = await log.waitFor('message');
      expect(message.replyTo?.providerMessageId).toBe('conformance-out-0');
    });

    it('sends a text and returns the id the provider gave it', async () => {
      const { channel, provider } = await online();
      const result = await channel.send({
        to: provider.peer,
        content: { type: 'text', text: 'Seu pedido saiu' },
      });
      const sent = await provider.sent();
      expect(sent).toHaveLength(1);
      expect(sent[0]).toMatchObject({ text: 'Seu pedido saiu', providerMessageId: result.providerMessageId });
      expect(result.providerMessageId.length).toBeGreaterThan(0);
      expect(result.timestamp).toBeInstanceOf(Date);
    });

    it('sends a reply that reaches the provider as a reply', async () => {
      const { channel, provider } = await online();
      await channel.send({
        to: provider.peer,
        content: { type: 'text', text: 'respondendo' },
        replyTo: { providerMessageId: 'conformance-in-9', text: 'pergunta' },
      });
      expect((await provider.sent())[0]).toMatchObject({ text: 'respondendo', replyTo: 'conformance-in-9' });
    });

    it('reports delivery and read receipts for a sent message', async () => {
      const { channel, provider, log } = await online();
      const { providerMessageId } = await channel.send({
        to: provider.peer,
        content: { type: 'text', text: 'ping' },
      });
      await provider.deliverReceipt({ providerMessageId, status: 'delivered' });
      await provider.deliverReceipt({ providerMessageId, status: 'read' });
      const receipts = await log.waitForCount('receipt', 2);
      expect(receipts.map((r) => [r.providerMessageId, r.status, r.fromMe])).toEqual([
        [providerMessageId, 'delivered', true],
        [providerMessageId, 'read', true],
      ]);
    });

    it('refuses to send with STALE_EPOCH once another owner claimed the session, and sends nothing', async () => {
      const { channel, provider } = await online();
      await provider.claimElsewhere();
      const attempt = channel.send({ to: provider.peer, content: { type: 'text', text: 'stale' } });
      await expect(attempt).rejects.toBeInstanceOf(StaleEpochError);
      // Retryable: the new owner sends the message.
      await expect(attempt).rejects.toMatchObject({ code: 'STALE_EPOCH', unrecoverable: false });
      expect(await provider.sent()).toHaveLength(0);
    });

    it('refuses to send before connecting with a retryable NOT_CONNECTED', async () => {
      const { channel, provider } = await fresh();
      const attempt = channel.send({ to: provider.peer, content: { type: 'text', text: 'early' } });
      await expect(attempt).rejects.toBeInstanceOf(ChannelError);
      await expect(attempt).rejects.toMatchObject({ code: 'NOT_CONNECTED', unrecoverable: false });
      expect(await provider.sent()).toHaveLength(0);
    });

    it('refuses an invalid recipient as unrecoverable INVALID_NUMBER', async () => {
      const { channel, provider } = await online();
      await expect(
        channel.send({ to: 'not-a-number', content: { type: 'text', text: 'x' } }),
      ).rejects.toMatchObject({
        code: 'INVALID_NUMBER',
        unrecoverable: true,
      });
      expect(await provider.sent()).toHaveLength(0);
    });

    it('disconnects: disconnected state, idempotent, and sends refused afterwards', async () => {
      const { channel, provider, log } = await online();
      await channel.disconnect();
      expect(channel.state).toBe('disconnected');
      expect(log.of('state').at(-1)).toMatchObject({ state: 'disconnected', cause: 'stopped' });
      const count = log.of('state').length;
      await channel.disconnect();
      expect(log.of('state')).toHaveLength(count);
      await expect(
        channel.send({ to: provider.peer, content: { type: 'text', text: 'x' } }),
      ).rejects.toMatchObject({
        code: 'NOT_CONNECTED',
      });
    });

    it('stops calling an unsubscribed listener, and a throwing listener does not stop the others', async () => {
      const { channel, provider, log } = await online();
      const seen: string[] = [];
      const off = channel.on('message', (m) => {
        seen.push(m.providerMessageId);
      });
      channel.on('message', () => {
        throw new Error('a listener bug');
      });
      await provider.deliverText({ providerMessageId: 'conformance-in-3', text: 'one' });
      await log.waitForCount('message', 1);
      off();
      await provider.deliverText({ providerMessageId: 'conformance-in-4', text: 'two' });
      await log.waitForCount('message', 2);
      expect(seen).toEqual(['conformance-in-3']);
      expect(channel.state).toBe('connected');
    });
  });
}
