import { useState } from 'react';
import { z } from 'zod';
import { invitedSchema, type Member, memberSchema, pendingInviteSchema, type Role } from '../api/schemas.ts';
import { roleAtLeast, useApp } from '../app-context.tsx';
import { ErrorAlert } from '../components/form-parts.tsx';
import { type ListResource, useListResource } from '../list-resource.ts';

const ROLES: Role[] = ['viewer', 'agent', 'admin', 'owner'];

/** The answer of DELETE /v1/team/members/:userId/sessions. */
const endedSchema = z.object({ ended: z.number() });

/** The accept-invite link of an invite token, on this inbox's origin. */
function inviteUrl(token: string): string {
  return `${location.origin}/accept-invite#token=${encodeURIComponent(token)}`;
}

/** The invites not accepted yet (admins): when each link expires; resend (a new link) or revoke. */
function PendingInvites(props: {
  members: ListResource<Member>;
  onLink: (link: { email: string; url: string }) => void;
  onNotice: (notice: string) => void;
}) {
  const { client, me } = useApp();
  const invites = useListResource('/v1/team/invites', pendingInviteSchema);
  if (invites.items.length === 0 && !invites.error) return null;
  return (
    <section>
      <h2>Pending invites</h2>
      <ErrorAlert error={invites.error} />
      <table className="table" aria-label="Pending invites">
        <thead>
          <tr>
            <th>Email</th>
            <th>Role</th>
            <th>Link expires</th>
            <th>Actions</th>
          </tr>
        </thead>
        <tbody>
          {invites.items.map((i) => {
            const expired = i.expiresAt === null || Date.parse(i.expiresAt) <= Date.now();
            const mine = i.role !== 'owner' || me.role === 'owner';
            return (
              <tr key={i.userId}>
                <td>{i.email}</td>
                <td>{i.role}</td>
                <td>{expired ? 'expired' : new Date(i.expiresAt as string).toLocaleString()}</td>
                <td>
                  {mine && (
                    <>
                      <button
                        type="button"
                        aria-label={`Resend the invite to ${i.email}`}
                        onClick={() => {
                          void invites.act(async () => {
                            const { invite } = await client.request(
                              'POST',
                              `/v1/team/invites/${i.userId}/resend`,
                              invitedSchema,
                            );
                            invites.update((list) =>
                              list.map((x) =>
                                x.userId === i.userId ? { ...x, expiresAt: invite.expiresAt } : x,
                              ),
                            );
                            props.onNotice(
                              `Sent ${i.email} a new invite; the previous link no longer works.`,
                            );
                            props.onLink({ email: i.email, url: inviteUrl(invite.token) });
                          });
                        }}
                      >
                        Resend
                      </button>{' '}
                      <button
                        type="button"
                        className="danger"
                        aria-label={`Revoke the invite to ${i.email}`}
                        onClick={() => {
                          if (!window.confirm(`Revoke the invite to ${i.email}?`)) return;
                          void invites.act(async () => {
                            await client.send('DELETE', `/v1/team/invites/${i.userId}`);
                            invites.update((list) => list.filter((x) => x.userId !== i.userId));
                            props.members.update((list) => list.filter((x) => x.userId !== i.userId));
                            props.onNotice(`Revoked the invite to ${i.email}.`);
                          });
                        }}
                      >
                        Revoke
                      </button>
                    </>
                  )}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </section>
  );
}

/** Members and their roles; admins invite (and resend or revoke invites), change roles and remove. */
export function TeamPage() {
  const { client, me } = useApp();
  const members = useListResource('/v1/team', memberSchema);
  // Bumped by each invite made here, so the pending invites list loads again.
  const [invitesVersion, setInvitesVersion] = useState(0);
  const [invite, setInvite] = useState({ email: '', displayName: '', role: 'agent' as Role });
  const [notice, setNotice] = useState<string | undefined>();
  // The newest invite's link, shown once (the API shows the token only in its answer).
  const [inviteLink, setInviteLink] = useState<{ email: string; url: string } | undefined>();
  const admin = roleAtLeast(me.role, 'admin');
  const grantable = ROLES.filter((r) => r !== 'owner' || me.role === 'owner');

  return (
    <div className="page">
      <h1>Team</h1>
      <ErrorAlert error={members.error} />
      {notice && <p role="status">{notice}</p>}
      {inviteLink && (
        <p>
          <label>
            Invite link for {inviteLink.email}
            <input readOnly value={inviteLink.url} onFocus={(e) => e.currentTarget.select()} />
          </label>
        </p>
      )}
      {admin && (
        <form
          className="inline-form"
          aria-label="Invite a member"
          onSubmit={(e) => {
            e.preventDefault();
            void members.act(async () => {
              const { invite: issued, ...m } = await client.request('POST', '/v1/team', invitedSchema, {
                body: invite,
              });
              members.update((list) => [m, ...list.filter((x) => x.userId !== m.userId)]);
              setInvite({ email: '', displayName: '', role: 'agent' });
              setNotice(
                `Invited ${m.email}. An invite was mailed if mail is set up; the link below works once, for 7 days.`,
              );
              setInviteLink({ email: m.email, url: inviteUrl(issued.token) });
              setInvitesVersion((v) => v + 1);
            });
          }}
        >
          <label>
            Email
            <input
              type="email"
              required
              value={invite.email}
              onChange={(e) => setInvite({ ...invite, email: e.target.value })}
            />
          </label>
          <label>
            Name
            <input
              required
              value={invite.displayName}
              onChange={(e) => setInvite({ ...invite, displayName: e.target.value })}
            />
          </label>
          <label>
            Role
            <select
              value={invite.role}
              onChange={(e) => setInvite({ ...invite, role: e.target.value as Role })}
            >
              {grantable.map((r) => (
                <option key={r}>{r}</option>
              ))}
            </select>
          </label>
          <button type="submit">Invite</button>
        </form>
      )}
      {admin && (
        // Keyed by the invites made here: each one mounts the list again, which loads it again.
        <PendingInvites key={invitesVersion} members={members} onLink={setInviteLink} onNotice={setNotice} />
      )}
      <h2>Members</h2>
      <table className="table" aria-label="Members">
        <thead>
          <tr>
            <th>Name</th>
            <th>Email</th>
            <th>Role</th>
            {admin && <th>Actions</th>}
          </tr>
        </thead>
        <tbody>
          {members.items.map((m) => (
            <tr key={m.userId}>
              <td>{m.displayName}</td>
              <td>{m.email}</td>
              <td>
                {admin && m.userId !== me.id && (m.role !== 'owner' || me.role === 'owner') ? (
                  <select
                    aria-label={`Role of ${m.displayName}`}
                    value={m.role}
                    onChange={(e) => {
                      const role = e.target.value;
                      void members.act(async () => {
                        const updated = await client.request('PATCH', `/v1/team/${m.userId}`, memberSchema, {
                          body: { role },
                        });
                        members.update((list) => list.map((x) => (x.userId === m.userId ? updated : x)));
                      });
                    }}
                  >
                    {grantable.map((r) => (
                      <option key={r}>{r}</option>
                    ))}
                  </select>
                ) : (
                  m.role
                )}
              </td>
              {admin && (
                <td>
                  {m.userId !== me.id && (m.role !== 'owner' || me.role === 'owner') && (
                    <button
                      type="button"
                      aria-label={`End every session of ${m.displayName}`}
                      onClick={() => {
                        if (
                          !window.confirm(
                            `End every session of ${m.displayName}? They are signed out everywhere.`,
                          )
                        )
                          return;
                        void members.act(async () => {
                          // Read, not cancelled: the answer says how many were ended.
                          const { ended } = await client.request(
                            'DELETE',
                            `/v1/team/members/${m.userId}/sessions`,
                            endedSchema,
                          );
                          setNotice(
                            `Ended ${ended} ${ended === 1 ? 'session' : 'sessions'} of ${m.displayName}: they are signed out everywhere.`,
                          );
                        });
                      }}
                    >
                      End sessions
                    </button>
                  )}{' '}
                  {m.userId !== me.id && (m.role !== 'owner' || me.role === 'owner') && (
                    <button
                      type="button"
                      className="danger"
                      onClick={() => {
                        if (!window.confirm(`Remove ${m.displayName} from the team?`)) return;
                        void members.act(async () => {
                          await client.send('DELETE', `/v1/team/${m.userId}`);
                          members.update((list) => list.filter((x) => x.userId !== m.userId));
                        });
                      }}
                    >
                      Remove
                    </button>
                  )}
                </td>
              )}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
