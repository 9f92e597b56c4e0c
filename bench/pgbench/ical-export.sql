-- pgbench baseline for bench/run: the statement the API runs for this endpoint, as the runtime role (so
-- row-level security applies). Variables come from bench/run.
-- GET /ical/{token}.ics for a seeded Airbnb connection (j % 4 = 2): app_ical_feed (migration 0019), one
-- statement that sets the agency and reads the connection by its token with the property's bookings and blocks
-- that end after yesterday in UTC.
\set a random(1, :agencies)
\set k random(0, greatest(0, (:props - 2) / 4))
\set j 2 + 4 * :k
SELECT * FROM app_ical_feed(md5('agency-' || :a)::uuid, md5('feed-' || :a || '-' || :j) || md5('feed2-' || :a || '-' || :j),
    (now() AT TIME ZONE 'UTC')::date - 1);
