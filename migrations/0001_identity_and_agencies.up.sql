-- 0001 identity and agencies: users, agencies, memberships, and the RLS helpers every tenant table uses.
-- Runs as the owner role (MIGRATION_DATABASE_URL); `innkeep db init` created the group role innkeep_app.

CREATE EXTENSION IF NOT EXISTS btree_gist;

-- The request's agency and user, set per transaction by the API with set_config(..., true).
-- NULLIF: on a pooled connection an unset local setting reads back as '' rather than NULL.
CREATE FUNCTION app_agency_id() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT NULLIF(current_setting('app.agency_id', true), '')::uuid $$;

CREATE FUNCTION app_user_id() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT NULLIF(current_setting('app.user_id', true), '')::uuid $$;

CREATE SCHEMA auth;

-- Users are global (one person may belong to several agencies), so this is not a tenant table.
CREATE TABLE auth.users (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email         text NOT NULL CHECK (length(email) BETWEEN 3 AND 320),
    password_hash text NOT NULL,
    full_name     text NOT NULL CHECK (length(full_name) BETWEEN 1 AND 200),
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_lower_key ON auth.users (lower(email));

CREATE TABLE agencies (
    id         uuid PRIMARY KEY,
    name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE team_members (
    agency_id  uuid NOT NULL REFERENCES agencies (id) ON DELETE CASCADE,
    id         uuid NOT NULL DEFAULT gen_random_uuid(),
    user_id    uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    role       text NOT NULL CHECK (role IN ('admin', 'manager', 'staff', 'owner', 'accountant')),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (agency_id, id),
    UNIQUE (agency_id, user_id)
);
-- The one lookup that crosses agencies: "which agencies am I a member of?"
CREATE INDEX team_members_user_id_idx ON team_members (user_id);

-- Agencies: visible when it is the request's agency or one the caller belongs to (for /me);
-- created only with app.agency_id set to the new id, inside the transaction that adds its first admin.
ALTER TABLE agencies ENABLE ROW LEVEL SECURITY;
ALTER TABLE agencies FORCE ROW LEVEL SECURITY;
CREATE POLICY agencies_current ON agencies
    USING (id = app_agency_id()) WITH CHECK (id = app_agency_id());
CREATE POLICY agencies_member_read ON agencies FOR SELECT
    USING (EXISTS (SELECT 1 FROM team_members tm WHERE tm.agency_id = agencies.id AND tm.user_id = app_user_id()));

ALTER TABLE team_members ENABLE ROW LEVEL SECURITY;
ALTER TABLE team_members FORCE ROW LEVEL SECURITY;
CREATE POLICY team_members_tenant ON team_members
    USING (agency_id = app_agency_id()) WITH CHECK (agency_id = app_agency_id());
-- Documented exception (docs/security/tenant-isolation.md): a user may read their own memberships
-- in every agency, which is how the request's agency and role are resolved.
CREATE POLICY team_members_own_memberships ON team_members FOR SELECT
    USING (user_id = app_user_id());

GRANT USAGE ON SCHEMA auth TO innkeep_app;
GRANT SELECT, INSERT, UPDATE ON auth.users TO innkeep_app;
GRANT SELECT, INSERT ON agencies TO innkeep_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON team_members TO innkeep_app;
GRANT EXECUTE ON FUNCTION app_agency_id(), app_user_id() TO innkeep_app;
