-- pgbench baseline for bench/run: the statements the API runs for this endpoint, in the same
-- transactions, as the runtime role (so row-level security applies). Variables come from bench/run
-- (-D agencies, props, bookings, nclients, daybase, runid, n=0). Ids follow bench/seed.sql.
-- GET /api/v1/bookings?property_id=…&from=…&to=… as an admin (a 30-day window in the seeded stays).
-- One statement, its own transaction (TenantEntry, migration 0016: app_admit, then app_bookings_page).
\set a random(1, :agencies)
\set j random(1, :props)
\set from random(0, greatest(0, :bookings * 4 - 30))
SELECT b.id, b.agency_id, b.property_id, b.guest_name, b.guest_email, b.check_in::text, b.check_out::text, b.guests, b.status, b.source, b.total_amount_cents, b.currency, b.notes, b.created_by, b.created_at, b.cancelled_at
FROM app_list_bookings(md5('user-admin-' || :a)::uuid, NULL::uuid, '{admin,manager,staff,owner,accountant}', md5('property-' || :a || '-' || :j)::uuid, NULL::text,
    date '2022-01-03' + :from::int, date '2022-01-03' + :from::int + 30, NULL::int8, NULL::uuid, 51) b;
