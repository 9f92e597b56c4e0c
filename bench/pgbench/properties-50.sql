-- pgbench baseline for bench/run: the statements the API runs for this endpoint, in the same
-- transactions, as the runtime role (so row-level security applies). Variables come from bench/run
-- (-D agencies, props, bookings, nclients, daybase, runid, n=0). Ids follow bench/seed.sql.
-- GET /api/v1/properties?limit=50 as the large agency's admin (agency 0, a page of 50 rows), in one statement,
-- its own transaction (TenantEntry: app_admit, then the page written as JSON, migration 0017).
\set a 0
SELECT items, next_micros, next_id
FROM app_list_properties_json(md5('user-admin-' || :a)::uuid, NULL::uuid, '{admin,manager,staff,owner,accountant}', NULL::text, NULL::int8, NULL::uuid, 50);
