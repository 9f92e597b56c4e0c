-- 0013 platform operators (SPEC §14): the users who may use /ops/* and /metrics besides the ops token.
-- Granted and revoked only by `innkeep operator grant|revoke EMAIL` as the owner role; the API reads it.
-- Not a tenant table: operators act for the platform, not for an agency.

CREATE TABLE auth.platform_operators (
    user_id    uuid PRIMARY KEY REFERENCES auth.users (id) ON DELETE CASCADE,
    granted_at timestamptz NOT NULL DEFAULT now()
);

GRANT SELECT ON auth.platform_operators TO innkeep_app;
