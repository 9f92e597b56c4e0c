-- pgbench baseline for bench/run: the statements the API runs for this endpoint, in the same
-- transactions, as the runtime role (so row-level security applies). Variables come from bench/run
-- (-D agencies, props, bookings, nclients, daybase, runid, n=0). Ids follow bench/seed.sql.
-- GET /api/v1/properties as an owner: only their own properties.
-- One statement, its own transaction (TenantEntry, migration 0016: app_admit, then app_properties_page).
\set a random(1, :agencies)
SELECT id, agency_id, owner_id, name, address, timezone, max_guests, min_nights, max_nights, status, created_at, updated_at
FROM app_list_properties(md5('user-owner-' || :a)::uuid, NULL::uuid, '{admin,manager,staff,owner,accountant}', NULL::text, NULL::int8, NULL::uuid, 51);
