-- Essential-statements baseline for bench/run (issue 17): only what this endpoint's work needs from the
-- database, as the runtime role (so row-level security applies): BEGIN, one set_config of the agency and
-- the user, the list query, COMMIT. No membership lookup, no second set_config, no pre-checks: the floor a server
-- that folds its bookkeeping away could reach. Compare with ../bookings-list.sql (the statements the endpoint runs today).
\set a random(1, :agencies)
\set j random(1, :props)
\set from random(0, greatest(0, :bookings * 4 - 30))
BEGIN;
SELECT set_config('app.agency_id', md5('agency-' || :a)::uuid::text, true), set_config('app.user_id', md5('user-admin-' || :a)::uuid::text, true);
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
