-- Mail in the reader's language, and invites told apart from password resets.
-- users.locale: the BCP 47 tag the member's mails are written in (a language of the API's mail
-- catalogue, checked by the API); null takes the tenant's default (MAIL_LOCALE).
-- password_reset_tokens.purpose: 'invite' for a token an invite issued (the team's pending invites
-- and the audit's invite.accepted read it), 'reset' for a password reset request.

-- Up Migration

ALTER TABLE users ADD COLUMN locale text
  CHECK (locale ~ '^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$');
ALTER TABLE password_reset_tokens ADD COLUMN purpose text NOT NULL DEFAULT 'reset'
  CHECK (purpose IN ('reset', 'invite'));

-- Down Migration

ALTER TABLE password_reset_tokens DROP COLUMN purpose;
ALTER TABLE users DROP COLUMN locale;
