import { useState } from 'react';
import { invitedSchema, memberSchema, type Role } from '../api/schemas.ts';
import { roleAtLeast, useApp } from '../app-context.tsx';
import { ErrorAlert } from '../components/form-parts.tsx';
import { useListResource } from '../list-resource.ts';

const ROLES: Role[] = ['viewer', 'agent', 'admin', 'owner'];

/** Members and their roles; admins invite, change roles and remove. */
export function TeamPage() {
  const { client, me } = useApp();
  const members = useListResource('/v1/team', memberSchema);
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
              setNotice(`Invited ${m.email}. Send them this link; it works once, for 7 days.`);
              setInviteLink({
                email: m.email,
                url: `${location.origin}/accept-invite#token=${encodeURIComponent(issued.token)}`,
              });
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
