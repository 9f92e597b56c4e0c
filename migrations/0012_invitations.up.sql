-- 0012 invitations (SPEC §14): nobody joins an agency without accepting. An admin invites an email,
-- known or not; the person with that email sees the invitation and accepts or declines it.

-- The signed-in user's email, lower-cased: what an invitee's rows are matched on. Invoker's rights:
-- the runtime role may read auth.users anyway; app.user_id is set only by the API, from a verified token.
CREATE FUNCTION app_user_email() RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT lower(email) FROM auth.users WHERE id = app_user_id() $$;

CREATE TABLE invitations (
    agency_id    uuid NOT NULL REFERENCES agencies (id) ON DELETE CASCADE,
    id           uuid NOT NULL DEFAULT gen_random_uuid(),
    email        text NOT NULL CHECK (length(email) BETWEEN 3 AND 320),
    role         text NOT NULL CHECK (role IN ('admin', 'manager', 'staff', 'owner', 'accountant')),
    status       text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'accepted', 'declined', 'revoked')),
    invited_by   uuid REFERENCES auth.users (id) ON DELETE SET NULL,
    expires_at   timestamptz NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    responded_at timestamptz,
    PRIMARY KEY (agency_id, id)
);
-- One pending invitation per email per agency (inviting again refreshes it).
CREATE UNIQUE INDEX invitations_one_pending_key ON invitations (agency_id, lower(email)) WHERE status = 'pending';
CREATE INDEX invitations_agency_created_idx ON invitations (agency_id, created_at DESC, id DESC);
-- The invitee's lookups, which cross agencies (documented exception, docs/security/tenant-isolation.md).
CREATE INDEX invitations_email_idx ON invitations (lower(email)) WHERE status = 'pending';
CREATE INDEX invitations_id_idx ON invitations (id);

ALTER TABLE invitations ENABLE ROW LEVEL SECURITY;
ALTER TABLE invitations FORCE ROW LEVEL SECURITY;
CREATE POLICY invitations_tenant ON invitations
    USING (agency_id = app_agency_id()) WITH CHECK (agency_id = app_agency_id());
-- Documented exception: the invitee reads and answers the invitations addressed to their own email,
-- in any agency, before being a member of it.
CREATE POLICY invitations_invitee_read ON invitations FOR SELECT
    USING (lower(email) = app_user_email());
CREATE POLICY invitations_invitee_answer ON invitations FOR UPDATE
    USING (lower(email) = app_user_email()) WITH CHECK (lower(email) = app_user_email());
-- ... and the name of an agency that invited them (for GET /me).
CREATE POLICY agencies_invitee_read ON agencies FOR SELECT
    USING (EXISTS (SELECT 1 FROM invitations i
                   WHERE i.agency_id = agencies.id AND i.status = 'pending' AND lower(i.email) = app_user_email()));

GRANT SELECT, INSERT, UPDATE ON invitations TO innkeep_app;
GRANT EXECUTE ON FUNCTION app_user_email() TO innkeep_app;
