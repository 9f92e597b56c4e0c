-- pgbench baseline for bench/run: the statement the API runs for this endpoint, as the runtime role (so
-- row-level security applies). Variables come from bench/run.
-- GET /api/v1/availability?check_in=…&check_out=…&guests=2 (7 nights) as the large agency's admin (agency 0):
-- app_availability_json (migration 0021), which admits the caller and writes a page of 50 found by the search as JSON.
\set from random(0, greatest(0, :bookings * 4 - 7))
SELECT * FROM app_availability_json(md5('user-admin-0')::uuid, NULL, '{admin,manager,staff}',
    date '2022-01-03' + :from::int, date '2022-01-03' + :from::int + 7, 2, NULL, NULL, 50);
