-- pgbench baseline for bench/run: the statements the API runs for this endpoint, in the same
-- transactions, as the runtime role (so row-level security applies). Variables come from bench/run
-- (-D agencies, props, bookings, nclients, daybase, runid, n=0). Ids follow bench/seed.sql.
-- POST /api/v1/bookings with an Idempotency-Key: the caller's admission and the claim (their own transaction),
-- then the booking and the stored answer in one transaction.
\set n :n + 1
\set total :agencies * :props
\set seq :n * :nclients + :client_id
\set pidx :seq % :total
\set a 1 + :pidx / :props
\set j 1 + :pidx % :props
\set night :daybase + :seq / :total
BEGIN;
SELECT agency_id, role FROM app_enter_request(md5('user-admin-' || :a)::uuid, NULL);
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
SELECT set_config('app.agency_id', md5('agency-' || :a)::uuid::text, true), set_config('app.user_id', md5('user-admin-' || :a)::uuid::text, true), set_config('app.worker', '', true);
SELECT id, agency_id, owner_id, name, address, timezone, max_guests, min_nights, max_nights, status, created_at, updated_at, now(), h.* FROM properties
LEFT JOIN LATERAL (SELECT * FROM app_holders(md5('agency-' || :a)::uuid, md5('property-' || :a || '-' || :j)::uuid,
    (date '2100-01-01' + :night::int), (date '2100-01-01' + :night::int + 1), 1)) h (h_rank, h_id, h_kind, h_first, h_end) ON true
WHERE agency_id = md5('agency-' || :a)::uuid AND id = md5('property-' || :a || '-' || :j)::uuid AND (NULL::uuid IS NULL OR owner_id = NULL::uuid);
-- The row, its audit row and its event in one statement (BookingRepository.Insert through Outbox.emit, app_emit); the API
-- chooses the id (here: from the run and the sequence number) and created_at is the transaction's now().
WITH new_booking AS (
    INSERT INTO bookings (agency_id, id, property_id, guest_name, guest_email, check_in, check_out, guests, status, source,
                          total_amount_cents, currency, notes, created_by, created_at)
    VALUES (md5('agency-' || :a)::uuid, md5('booking-' || :runid || '-' || :seq)::uuid, md5('property-' || :a || '-' || :j)::uuid,
            'Bench Guest ' || :seq, 'bench' || :seq || '@example.com',
            (date '2100-01-01' + :night::int), (date '2100-01-01' + :night::int + 1), 2, 'confirmed', 'direct', 12000, 'EUR', NULL,
            md5('user-admin-' || :a)::uuid, now())),
audit AS (
    INSERT INTO audit_log (agency_id, user_id, action, resource_type, resource_id, details)
    VALUES (md5('agency-' || :a)::uuid, md5('user-admin-' || :a)::uuid, 'booking.create', 'booking', md5('booking-' || :runid || '-' || :seq)::uuid,
            ('{"check_in":"' || (date '2100-01-01' + :night::int) || '","check_out":"' || (date '2100-01-01' + :night::int + 1)
             || '","property_id":"' || md5('property-' || :a || '-' || :j)::uuid || '"}')::jsonb))
SELECT app_emit(md5('agency-' || (:a)::text)::uuid, 'booking.created',
    jsonb_build_object('id', md5('booking-' || :runid || '-' || :seq), 'property_id', md5('property-' || :a || '-' || :j), 'guest_name', 'Bench Guest ' || (:seq)::text,
        'guest_email', 'bench' || (:seq)::text || '@example.com', 'check_in', (date '2100-01-01' + :night::int)::text, 'check_out', (date '2100-01-01' + :night::int + 1)::text,
        'guests', 2, 'status', 'confirmed', 'source', 'direct', 'total_amount_cents', 12000, 'currency', 'EUR', 'notes', NULL),
    NULL::uuid);
UPDATE idempotency_keys SET response_status = 201, response_body = convert_to(repeat('x', 620), 'UTF8')
WHERE agency_id = md5('agency-' || :a)::uuid AND user_id = md5('user-admin-' || :a)::uuid AND key = 'bench-pg-' || :runid || '-' || :seq;
COMMIT;
