-- pgbench baseline for bench/run: the statements the API runs for this endpoint, in the same
-- transactions, as the runtime role (so row-level security applies). Variables come from bench/run
-- (-D agencies, props, bookings, nclients, daybase, runid, n=0). Ids follow bench/seed.sql.
-- GET /api/v1/bookings?property_id=…&from=…&to=… as an admin (a 30-day window in the seeded stays).
\set a random(1, :agencies)
\set j random(1, :props)
\set from random(0, greatest(0, :bookings * 4 - 30))
BEGIN;
SELECT agency_id, role FROM app_enter_request(md5('user-admin-' || :a)::uuid, NULL);
SELECT b.id, b.agency_id, b.property_id, b.guest_name, b.guest_email, b.check_in::text, b.check_out::text, b.guests, b.status, b.source, b.total_amount_cents, b.currency, b.notes, b.created_by, b.created_at, b.cancelled_at FROM bookings b
WHERE b.agency_id = md5('agency-' || :a)::uuid
  AND (NULL::uuid IS NULL OR EXISTS (
      SELECT 1 FROM properties p WHERE p.agency_id = b.agency_id AND p.id = b.property_id AND p.owner_id = NULL::uuid))
  AND (md5('property-' || :a || '-' || :j)::uuid IS NULL OR b.property_id = md5('property-' || :a || '-' || :j)::uuid)
  AND (NULL::text IS NULL OR b.status = NULL::text)
  AND ((date '2022-01-03' + :from::int) IS NULL AND (date '2022-01-03' + :from::int + 30) IS NULL
       OR daterange(b.check_in, b.check_out, '[)') && daterange((date '2022-01-03' + :from::int), (date '2022-01-03' + :from::int + 30), '[]'))
  AND ((date '2022-01-03' + :from::int) IS NULL OR b.check_out > (date '2022-01-03' + :from::int))
  AND ((date '2022-01-03' + :from::int + 30) IS NULL OR b.check_in < (date '2022-01-03' + :from::int + 30))
  AND (NULL::int8 IS NULL OR (b.created_at, b.id) < (timestamptz 'epoch' + NULL::int8 * interval '1 microsecond', NULL::uuid))
ORDER BY b.created_at DESC, b.id DESC LIMIT 51;
COMMIT;
