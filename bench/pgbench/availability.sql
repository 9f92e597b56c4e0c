-- pgbench baseline for bench/run: the statements the API runs for this endpoint, in the same
-- transactions, as the runtime role (so row-level security applies). Variables come from bench/run.
-- GET /api/v1/availability?check_in=…&check_out=…&guests=2 (7 nights) as the large agency's admin (agency 0).
\set from random(0, greatest(0, :bookings * 4 - 7))
BEGIN;
SELECT agency_id, role FROM app_enter_request(md5('user-admin-0')::uuid, NULL);
SELECT id, agency_id, owner_id, name, address, timezone, max_guests, min_nights, max_nights, status, created_at, updated_at FROM properties p
WHERE p.agency_id = md5('agency-0')::uuid AND p.status = 'active' AND p.max_guests >= 2
  AND p.min_nights <= 7 AND p.max_nights >= 7
  AND NOT EXISTS (
      SELECT 1 FROM occupancy o
      WHERE o.agency_id = p.agency_id AND o.property_id = p.id
        AND o.nights && daterange(date '2022-01-03' + :from::int, date '2022-01-03' + :from::int + 7, '[)'))
  AND NOT EXISTS (
      SELECT 1 FROM blocks k
      WHERE k.agency_id = p.agency_id AND k.property_id = p.id AND k.kind = 'channel'
        AND daterange(k.start_date, k.end_date, '[)') && daterange(date '2022-01-03' + :from::int, date '2022-01-03' + :from::int + 7, '[)'))
  AND TRUE
ORDER BY p.created_at DESC, p.id DESC LIMIT 51;
COMMIT;
