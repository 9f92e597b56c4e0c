-- Essential-statements baseline for bench/run (issue 17): only what this endpoint's work needs from the
-- database, as the runtime role (so row-level security applies): BEGIN, one set_config of the agency and
-- the user, the one search query (app_available_page_json's since migration 0021), COMMIT. No membership lookup, no
-- second set_config, no pre-checks: the floor a server that folds its bookkeeping away could reach. Compare with
-- ../availability.sql (the statements the endpoint runs today).
\set from random(0, greatest(0, :bookings * 4 - 7))
BEGIN;
SELECT set_config('app.agency_id', md5('agency-0')::uuid::text, true), set_config('app.user_id', md5('user-admin-0')::uuid::text, true);
SELECT id, agency_id, owner_id, name, address, timezone, max_guests, min_nights, max_nights, status, created_at, updated_at FROM (
    SELECT p.* FROM properties p
    WHERE p.agency_id = md5('agency-0')::uuid AND p.status = 'active' AND p.max_guests >= 2
      AND p.min_nights <= 7 AND p.max_nights >= 7
    ORDER BY p.created_at DESC, p.id DESC
    OFFSET 0) c
WHERE COALESCE((SELECT b.check_out FROM bookings b
                WHERE b.agency_id = c.agency_id AND b.property_id = c.id AND b.check_in < date '2022-01-03' + :from::int + 7
                  AND b.status = 'confirmed'
                ORDER BY b.check_in DESC
                LIMIT 1), '-infinity') <= date '2022-01-03' + :from::int
  AND NOT EXISTS (
      SELECT 1 FROM blocks k
      WHERE k.agency_id = c.agency_id AND k.property_id = c.id
        AND k.end_date > date '2022-01-03' + :from::int AND k.start_date < date '2022-01-03' + :from::int + 7)
ORDER BY c.created_at DESC, c.id DESC LIMIT 51;
COMMIT;
