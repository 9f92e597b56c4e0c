-- Essential-statements baseline for bench/run (issue 17): only what this endpoint's work needs from the
-- database, as the runtime role (so row-level security applies): BEGIN, one set_config of the agency and
-- the user, the property and its nights, COMMIT. No membership lookup, no second set_config, no pre-checks: the floor a server
-- that folds its bookkeeping away could reach. Compare with ../calendar.sql (the statements the endpoint runs today).
\set a random(1, :agencies)
\set j random(1, :props)
\set from random(0, greatest(0, :bookings * 4 - 90))
BEGIN;
SELECT set_config('app.agency_id', md5('agency-' || :a)::uuid::text, true), set_config('app.user_id', md5('user-admin-' || :a)::uuid::text, true);
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
