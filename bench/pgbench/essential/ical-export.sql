-- Essential-statements baseline for bench/run (issue 17): only what this endpoint's work needs from the
-- database, as the runtime role (so row-level security applies): BEGIN, one set_config of the agency and
-- the user, the connection by its token and the property's nights (what it ran before migration 0019: an export has no membership), COMMIT. No membership lookup, no second set_config, no pre-checks: the floor a server
-- that folds its bookkeeping away could reach. Compare with ../ical-export.sql (the statements the endpoint runs today).
\set a random(1, :agencies)
\set k random(0, greatest(0, (:props - 2) / 4))
\set j 2 + 4 * :k
BEGIN;
SELECT set_config('app.agency_id', md5('agency-' || :a)::uuid::text, true), set_config('app.user_id', '', true);
SELECT c.id, c.property_id, p.timezone FROM channel_connections c
JOIN properties p ON p.agency_id = c.agency_id AND p.id = c.property_id
WHERE c.agency_id = md5('agency-' || :a)::uuid AND c.export_token = md5('feed-' || :a || '-' || :j) || md5('feed2-' || :a || '-' || :j) \gset conn_
SELECT true, id, check_in::text, check_out::text, created_at FROM bookings
WHERE agency_id = md5('agency-' || :a)::uuid AND property_id = :conn_property_id::uuid AND status = 'confirmed' AND check_out > CURRENT_DATE
UNION ALL
SELECT false, id, start_date::text, end_date::text, created_at FROM blocks
WHERE agency_id = md5('agency-' || :a)::uuid AND property_id = :conn_property_id::uuid AND end_date > CURRENT_DATE
  AND channel_connection_id IS DISTINCT FROM :conn_id::uuid
ORDER BY 3, 2;
COMMIT;
