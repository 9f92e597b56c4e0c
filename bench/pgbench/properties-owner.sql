-- pgbench baseline for bench/run: the statements the API runs for this endpoint, in the same
-- transactions, as the runtime role (so row-level security applies). Variables come from bench/run
-- (-D agencies, props, bookings, nclients, daybase, runid, n=0). Ids follow bench/seed.sql.
-- GET /api/v1/properties as an owner: only their own properties.
-- One statement, its own transaction (TenantEntry: app_admit, then the page written as JSON, migration 0017).
\set a random(1, :agencies)
SELECT items, next_micros, next_id
FROM app_list_properties_json(md5('user-owner-' || :a)::uuid, NULL::uuid, '{admin,manager,staff,owner,accountant}', NULL::text, NULL::int8, NULL::uuid, 50);
