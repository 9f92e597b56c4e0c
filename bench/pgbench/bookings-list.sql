-- pgbench baseline for bench/run: the statements the API runs for this endpoint, in the same
-- transactions, as the runtime role (so row-level security applies). Variables come from bench/run
-- (-D agencies, props, bookings, nclients, daybase, runid, n=0). Ids follow bench/seed.sql.
-- GET /api/v1/bookings?property_id=…&from=…&to=… as an admin (a 30-day window in the seeded stays).
-- One statement, its own transaction (TenantEntry: app_admit, then the page written as JSON, migration 0017).
\set a random(1, :agencies)
\set j random(1, :props)
\set from random(0, greatest(0, :bookings * 4 - 30))
SELECT items, next_micros, next_id
FROM app_list_bookings_json(md5('user-admin-' || :a)::uuid, NULL::uuid, '{admin,manager,staff,owner,accountant}', md5('property-' || :a || '-' || :j)::uuid, NULL::text,
    date '2022-01-03' + :from::int, date '2022-01-03' + :from::int + 30, NULL::int8, NULL::uuid, 50);
