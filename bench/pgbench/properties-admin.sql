-- pgbench baseline for bench/run: the statements the API runs for this endpoint, in the same
-- transactions, as the runtime role (so row-level security applies). Variables come from bench/run
-- (-D agencies, props, bookings, nclients, daybase, runid, n=0). Ids follow bench/seed.sql.
-- GET /api/v1/properties as an admin: app_enter_request (the membership lookup that also sets the agency), then the list:
-- one transaction (RequestTransaction).
\set a random(1, :agencies)
BEGIN;
SELECT agency_id, role FROM app_enter_request(md5('user-admin-' || :a)::uuid, NULL);
SELECT id, agency_id, owner_id, name, address, timezone, max_guests, min_nights, max_nights, status, created_at, updated_at FROM properties
WHERE agency_id = md5('agency-' || :a)::uuid
  AND (NULL::uuid IS NULL OR owner_id = NULL::uuid)
  AND (NULL::text IS NULL OR status = NULL::text)
  AND (NULL::int8 IS NULL OR (created_at, id) < (timestamptz 'epoch' + NULL::int8 * interval '1 microsecond', NULL::uuid))
ORDER BY created_at DESC, id DESC LIMIT 51;
COMMIT;
