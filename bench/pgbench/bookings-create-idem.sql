-- pgbench baseline for bench/run: the statements the API runs for this endpoint, in the same
-- transactions, as the runtime role (so row-level security applies). Variables come from bench/run
-- (-D agencies, props, bookings, nclients, daybase, runid, n=0). Ids follow bench/seed.sql.
-- POST /api/v1/bookings with an Idempotency-Key: two statements, each its own transaction (migration 0020). The
-- first admits the caller and claims the key (app_admit_and_claim_key), committed before the action; the second
-- is the create without a key's (app_create_booking, in the claim's agency), whose answer app_keep_answer records on
-- the key.
\set n :n + 1
\set total :agencies * :props
\set seq :n * :nclients + :client_id
\set pidx :seq % :total
\set a 1 + :pidx / :props
\set j 1 + :pidx % :props
\set night :daybase + :seq / :total
SELECT * FROM app_admit_and_claim_key(md5('user-admin-' || :a)::uuid, NULL::uuid, '{admin,manager}', 'bench-pg-' || :runid || '-' || :seq,
    'POST', '/api/v1/bookings', md5(:seq::text) || md5(:runid::text), 86400, 60, 1450);
SELECT app_keep_answer(md5('user-admin-' || :a)::uuid, 'bench-pg-' || :runid || '-' || :seq, 201, app_create_booking(md5('user-admin-' || :a)::uuid,
    md5('agency-' || :a)::uuid, '{admin,manager}', md5('property-' || :a || '-' || :j)::uuid,
    'Bench Guest ' || :seq, 'bench' || :seq || '@example.com', (date '2100-01-01' + :night::int), (date '2100-01-01' + :night::int + 1),
    2, 'direct', 12000, 'EUR', NULL::text, 1450));
