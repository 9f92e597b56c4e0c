-- pgbench baseline for bench/run: the statements the API runs for this endpoint, in the same
-- transactions, as the runtime role (so row-level security applies). Variables come from bench/run
-- (-D agencies, props, bookings, nclients, daybase, runid, n=0). Ids follow bench/seed.sql.
-- GET /health: Database.ping(), `SELECT 1` on its own (plus a Redis PING, measured by redis-benchmark). The API
-- shares one such check among the /health requests of 20 ms (HealthProbe), so it sends far fewer than one per
-- request: this is what one request would cost without that.
SELECT 1;
