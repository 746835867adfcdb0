import { useCallback, useEffect, useState } from 'react';
import { describeError } from '../api/client.ts';
import { type Member, memberSchema, pageOf, type Role } from '../api/schemas.ts';
import { roleAtLeast, useApp } from '../app-context.tsx';

const ROLES: Role[] = ['viewer', 'agent', 'admin', 'owner'];

/** Members and their roles; admins invite, change roles and remove. */
export function TeamPage() {
  const { client, me } = useApp();
  const [members, setMembers] = useState<Member[]>([]);
  const [error, setError] = useState<string | undefined>();
  const [invite, setInvite] = useState({ email: '', displayName: '', role: 'agent' as Role });
  const [notice, setNotice] = useState<string | undefined>();
  const admin = roleAtLeast(me.role, 'admin');
  const grantable = ROLES.filter((r) => r !== 'owner' || me.role === 'owner');

  const load = useCallback(async () => {
    try {
      setMembers((await client.request('GET', '/v1/team?limit=100', pageOf(memberSchema))).items);
    } catch (e) {
      setError(describeError(e));
    }
  }, [client]);
  useEffect(() => {
    void load();
  }, [load]);

  return (
    <div className="page">
      <h1>Team</h1>
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      {notice && <p role="status">{notice}</p>}
      {admin && (
        <form
          className="inline-form"
          aria-label="Invite a member"
          onSubmit={async (e) => {
            e.preventDefault();
            try {
              const m = await client.request('POST', '/v1/team', memberSchema, { body: invite });
              setMembers((list) => [m, ...list]);
              setInvite({ email: '', displayName: '', role: 'agent' });
              setError(undefined);
              setNotice(`Invited ${m.email}; they set a password through "forgot password".`);
            } catch (err) {
              setError(describeError(err));
            }
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
          {members.map((m) => (
            <tr key={m.userId}>
              <td>{m.displayName}</td>
              <td>{m.email}</td>
              <td>
                {admin && m.userId !== me.id && (m.role !== 'owner' || me.role === 'owner') ? (
                  <select
                    aria-label={`Role of ${m.displayName}`}
                    value={m.role}
                    onChange={async (e) => {
                      try {
                        const updated = await client.request('PATCH', `/v1/team/${m.userId}`, memberSchema, {
                          body: { role: e.target.value },
                        });
                        setMembers((list) => list.map((x) => (x.userId === m.userId ? updated : x)));
                      } catch (err) {
                        setError(describeError(err));
                      }
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
                      onClick={async () => {
                        if (!window.confirm(`Remove ${m.displayName} from the team?`)) return;
                        try {
                          await client.send('DELETE', `/v1/team/${m.userId}`);
                          setMembers((list) => list.filter((x) => x.userId !== m.userId));
                        } catch (err) {
                          setError(describeError(err));
                        }
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
