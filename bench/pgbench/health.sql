-- pgbench baseline for bench/run: the statements the API runs for this endpoint, in the same
-- transactions, as the runtime role (so row-level security applies). Variables come from bench/run
-- (-D agencies, props, bookings, nclients, daybase, runid, n=0). Ids follow bench/seed.sql.
-- GET /health: Database.ping() (plus a Redis PING, measured by redis-benchmark).
BEGIN;
SELECT set_config('app.agency_id', '', true), set_config('app.user_id', '', true), set_config('app.worker', '', true);
SELECT 1;
COMMIT;
