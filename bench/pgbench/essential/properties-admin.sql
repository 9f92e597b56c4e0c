-- Essential-statements baseline for bench/run (issue 17): only what this endpoint's work needs from the
-- database, as the runtime role (so row-level security applies): BEGIN, one set_config of the agency and
-- the user, the list query, COMMIT. No membership lookup, no second set_config, no pre-checks: the floor a server
-- that folds its bookkeeping away could reach. Compare with ../properties-admin.sql (the statements the endpoint runs today).
\set a random(1, :agencies)
BEGIN;
SELECT set_config('app.agency_id', md5('agency-' || :a)::uuid::text, true), set_config('app.user_id', md5('user-admin-' || :a)::uuid::text, true);
SELECT id, agency_id, owner_id, name, address, timezone, max_guests, min_nights, max_nights, status, created_at, updated_at FROM properties
WHERE agency_id = md5('agency-' || :a)::uuid
  AND (NULL::uuid IS NULL OR owner_id = NULL::uuid)
  AND (NULL::text IS NULL OR status = NULL::text)
  AND (NULL::int8 IS NULL OR (created_at, id) < (timestamptz 'epoch' + NULL::int8 * interval '1 microsecond', NULL::uuid))
ORDER BY created_at DESC, id DESC LIMIT 51;
COMMIT;
