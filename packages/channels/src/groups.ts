/**
 * Groups on the channel port: what a group is (its info and participants), what changed in one
 * (the `group` event), and the operations a channel with groups offers ({@link ChannelGroups}).
 * Provider-neutral like the rest of the port; Baileys implements it (`baileys/groups.ts`), the
 * Cloud API has no groups.
 */

/**
 * A person as a group names them: the same shape as the port's `ContactRef` (channel.ts), spelled
 * out here so this module does not import channel.ts (which imports it).
 */
export interface GroupMember {
  /** Their address (Baileys: a PN or LID JID). */
  address: string;
  /** Phone number, E.164 digits without '+'. */
  pn?: string;
  /** LID, the digits before `@lid`. */
  lid?: string;
  /** The name they set for themselves. */
  pushName?: string;
}

/** A participant's standing in a group. */
export type GroupRole = 'member' | 'admin' | 'superadmin';

/** One participant of a group. */
export interface GroupParticipant extends GroupMember {
  role: GroupRole;
}

/** A group as the provider describes it. */
export interface GroupInfo {
  /** The group's address (Baileys: `<id>@g.us`): what to send to. */
  address: string;
  subject?: string;
  description?: string;
  /** Who created it. */
  owner?: GroupMember;
  /** When it was created. */
  createdAt?: Date;
  participants: GroupParticipant[];
}

/** What a participants change did. `leave`: they removed themselves; `modify`: changed their number. */
export type GroupParticipantsAction = 'add' | 'remove' | 'leave' | 'promote' | 'demote' | 'modify';

/** One change of a group, as a member sees it. */
export type GroupChange =
  | { type: 'participants'; action: GroupParticipantsAction; participants: GroupMember[] }
  | { type: 'subject'; subject: string }
  | { type: 'description'; description: string | null }
  | { type: 'created'; subject: string };

/**
 * Something about a group: a change (a notification WhatsApp sent to the group, once per
 * `eventId`), or the group's whole info as the channel just read it (`metadata`, when the channel
 * first sees a group or after it changed the group itself).
 */
export type GroupEvent =
  | {
      kind: 'change';
      sessionId: string;
      /** The group's address. */
      group: string;
      /** The provider's id of the notification: de-duplicate on it. */
      eventId: string;
      /** Who did it (absent when WhatsApp did not say). */
      actor?: GroupMember;
      change: GroupChange;
      /** False for catch-up delivery. */
      live: boolean;
      at: Date;
    }
  | { kind: 'metadata'; sessionId: string; group: string; info: GroupInfo; at: Date };

/** What a participants operation did for one participant (`status` as WhatsApp answered: 200 is success). */
export interface GroupParticipantResult {
  /** The participant's address as given to the provider. */
  address: string;
  /** Phone digits, when the address is a phone number. */
  pn?: string;
  status: number;
}

/**
 * Group operations of a channel that has groups. Each rejects like `send()` (`NOT_CONNECTED`,
 * `STALE_EPOCH`, unrecoverable `LOGGED_OUT`), `INVALID_NUMBER` for a participant that is not a
 * phone number, and `SEND_FAILED` when WhatsApp refused.
 */
export interface ChannelGroups {
  /** Creates a group with this subject and these participants (phone digits); returns its info. */
  create(subject: string, participants: string[]): Promise<GroupInfo>;
  /** Reads a group's info from the provider. */
  metadata(group: string): Promise<GroupInfo>;
  /** Adds, removes, promotes or demotes participants (phone digits). */
  updateParticipants(
    group: string,
    participants: string[],
    action: 'add' | 'remove' | 'promote' | 'demote',
  ): Promise<GroupParticipantResult[]>;
  /** Changes the subject. */
  updateSubject(group: string, subject: string): Promise<void>;
}
