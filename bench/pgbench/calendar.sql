-- pgbench baseline for bench/run: the statement the API runs for this endpoint, as the runtime role (so
-- row-level security applies). Variables come from bench/run.
-- GET /api/v1/properties/{id}/calendar?from=…&to=… (90 nights inside the seeded stays) as an admin:
-- app_property_calendar (migration 0019), which admits the caller and reads the property's holders.
\set a random(1, :agencies)
\set j random(1, :props)
\set from random(0, greatest(0, :bookings * 4 - 90))
SELECT * FROM app_property_calendar(md5('user-admin-' || :a)::uuid, NULL, '{admin,manager,staff,owner,accountant}',
    md5('property-' || :a || '-' || :j)::uuid, date '2022-01-03' + :from::int, date '2022-01-03' + :from::int + 90);
