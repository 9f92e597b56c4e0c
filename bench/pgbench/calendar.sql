-- pgbench baseline for bench/run: the statements the API runs for this endpoint, in the same
-- transactions, as the runtime role (so row-level security applies). Variables come from bench/run.
-- GET /api/v1/properties/{id}/calendar?from=…&to=… (90 nights inside the seeded stays) as an admin.
\set a random(1, :agencies)
\set j random(1, :props)
\set from random(0, greatest(0, :bookings * 4 - 90))
BEGIN;
SELECT agency_id, role FROM app_enter_request(md5('user-admin-' || :a)::uuid, NULL);
SELECT id, agency_id, owner_id, name, address, timezone, max_guests, min_nights, max_nights, status, created_at, updated_at FROM properties
WHERE agency_id = md5('agency-' || :a)::uuid AND id = md5('property-' || :a || '-' || :j)::uuid AND (NULL::uuid IS NULL OR owner_id = NULL::uuid);
SELECT 0 AS rank, id, NULL::text AS kind, check_in::text, check_out::text FROM bookings
WHERE agency_id = md5('agency-' || :a)::uuid AND property_id = md5('property-' || :a || '-' || :j)::uuid AND status = 'confirmed'
  AND daterange(check_in, check_out, '[)') && daterange(date '2022-01-03' + :from::int, date '2022-01-03' + :from::int + 90, '[)')
UNION ALL
SELECT 1, id, kind, start_date::text, end_date::text FROM blocks
WHERE agency_id = md5('agency-' || :a)::uuid AND property_id = md5('property-' || :a || '-' || :j)::uuid
  AND daterange(start_date, end_date, '[)') && daterange(date '2022-01-03' + :from::int, date '2022-01-03' + :from::int + 90, '[)')
ORDER BY rank, check_in LIMIT 10000;
COMMIT;
