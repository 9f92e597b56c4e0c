-- pgbench baseline for bench/run: the statements the API runs for this endpoint, in the same
-- transactions, as the runtime role (so row-level security applies). Variables come from bench/run
-- (-D agencies, props, bookings, nclients, daybase, runid, n=0). Ids follow bench/seed.sql.
-- POST /api/v1/bookings as an admin (bookings-create-hooks: the same while 3 webhook endpoints per agency
-- subscribe to booking.created, so the outbox statement writes the event and 3 deliveries), each on a free night (a unique number per transaction across
-- clients, mapped one-to-one onto property × night, exactly as bench/innkeep.lua does). Without an Idempotency-Key the
-- API sends one statement, its own transaction (TenantEntry, migration 0018): app_create_booking admits the caller,
-- writes the booking, its audit row and its event (app_emit), and returns the booking's JSON, which app_keep_answer
-- (migration 0020) passes through (with a key it records it as the key's answer; here the key is NULL).
\set n :n + 1
\set total :agencies * :props
\set seq :n * :nclients + :client_id
\set pidx :seq % :total
\set a 1 + :pidx / :props
\set j 1 + :pidx % :props
\set night :daybase + :seq / :total
SELECT app_keep_answer(md5('user-admin-' || :a)::uuid, NULL::text, 201, app_create_booking(md5('user-admin-' || :a)::uuid, NULL::uuid, '{admin,manager}', md5('property-' || :a || '-' || :j)::uuid,
    'Bench Guest ' || :seq, 'bench' || :seq || '@example.com', (date '2100-01-01' + :night::int), (date '2100-01-01' + :night::int + 1),
    2, 'direct', 12000, 'EUR', NULL::text, 1450));
