-- Essential-statements baseline for bench/run (issue 17): only what this endpoint's work needs from the
-- database, as the runtime role (so row-level security applies): BEGIN, one set_config of the agency and
-- the user, the claim in its own transaction, then the insert, its audit row and the stored answer, COMMIT. No membership lookup, no second set_config, no pre-checks: the floor a server
-- that folds its bookkeeping away could reach. Compare with ../bookings-create-idem.sql (the statements the endpoint runs today).
\set n :n + 1
\set total :agencies * :props
\set seq :n * :nclients + :client_id
\set pidx :seq % :total
\set a 1 + :pidx / :props
\set j 1 + :pidx % :props
\set night :daybase + :seq / :total
BEGIN;
SELECT set_config('app.agency_id', md5('agency-' || :a)::uuid::text, true), set_config('app.user_id', md5('user-admin-' || :a)::uuid::text, true);
INSERT INTO idempotency_keys (agency_id, key, user_id, request_method, request_path, request_hash, expires_at)
VALUES (md5('agency-' || :a)::uuid, 'bench-pg-' || :runid || '-' || :seq, md5('user-admin-' || :a)::uuid, 'POST', '/api/v1/bookings',
        md5(:seq::text) || md5(:runid::text), now() + make_interval(secs => 86400))
ON CONFLICT (agency_id, user_id, key) DO UPDATE
    SET request_method = EXCLUDED.request_method, request_path = EXCLUDED.request_path,
        request_hash = EXCLUDED.request_hash, response_status = NULL, response_body = NULL,
        created_at = now(), expires_at = EXCLUDED.expires_at
    WHERE idempotency_keys.expires_at < now()
       OR (idempotency_keys.response_status IS NULL
           AND idempotency_keys.created_at < now() - make_interval(secs => 60))
RETURNING key;
COMMIT;
BEGIN;
SELECT set_config('app.agency_id', md5('agency-' || :a)::uuid::text, true), set_config('app.user_id', md5('user-admin-' || :a)::uuid::text, true);
WITH b AS (
    INSERT INTO bookings (agency_id, property_id, guest_name, guest_email, check_in, check_out, guests, source,
                          total_amount_cents, currency, notes, created_by)
    VALUES (md5('agency-' || :a)::uuid, md5('property-' || :a || '-' || :j)::uuid, 'Bench Guest ' || :seq, 'bench' || :seq || '@example.com',
            (date '2100-01-01' + :night::int), (date '2100-01-01' + :night::int + 1), 2, 'direct', 12000, 'EUR', NULL, md5('user-admin-' || :a)::uuid)
    RETURNING *)
SELECT b.id, b.agency_id, b.property_id, b.guest_name, b.guest_email, b.check_in::text, b.check_out::text, b.guests, b.status, b.source, b.total_amount_cents, b.currency, b.notes, b.created_by, b.created_at, b.cancelled_at FROM b \gset ins_
INSERT INTO audit_log (agency_id, user_id, action, resource_type, resource_id, details)
VALUES (md5('agency-' || :a)::uuid, md5('user-admin-' || :a)::uuid, 'booking.create', 'booking', :ins_id::uuid,
        ('{"check_in":"' || :ins_check_in || '","check_out":"' || :ins_check_out || '","property_id":"' || :ins_property_id || '"}')::jsonb);
UPDATE idempotency_keys SET response_status = 201, response_body = convert_to(repeat('x', 620), 'UTF8')
WHERE agency_id = md5('agency-' || :a)::uuid AND user_id = md5('user-admin-' || :a)::uuid AND key = 'bench-pg-' || :runid || '-' || :seq;
COMMIT;
