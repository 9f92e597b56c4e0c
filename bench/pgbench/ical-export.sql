-- pgbench baseline for bench/run: the statements the API runs for this endpoint, in the same
-- transaction, as the runtime role (so row-level security applies). Variables come from bench/run.
-- GET /ical/{token}.ics for a seeded Airbnb connection (j % 4 = 2): the connection by its token, then the
-- property's bookings and blocks that end after today.
\set a random(1, :agencies)
\set k random(0, greatest(0, (:props - 2) / 4))
\set j 2 + 4 * :k
BEGIN;
SELECT set_config('app.agency_id', md5('agency-' || :a)::uuid::text, true), set_config('app.user_id', '', true), set_config('app.worker', '', true);
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
