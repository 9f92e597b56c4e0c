-- Seeds a deterministic benchmark data set; run by bench/run as the superuser (which bypasses
-- row-level security) with psql variables:
--   a_from, a_to   agency numbers to create (inclusive; growth runs add the next range)
--   props          properties per agency
--   bookings       bookings per property
--   sparse         1: only two properties in three get bookings (the large agency that availability
--                  searches, so that some properties are free); 0: every property does
-- Ids are md5-derived UUIDs, so they are random-looking (like gen_random_uuid) yet computable:
-- bench/tokens.py and the pgbench scripts derive the same ids from the same numbers.
--   agency i            md5('agency-' || i)
--   user (role r) of i   md5('user-' || r || '-' || i)        r in admin, manager, staff, owner, accountant
--   property j of i      md5('property-' || i || '-' || j)
-- Every 4th property (j % 4 = 1) belongs to the agency's owner. Bookings of one property are
-- consecutive 1–3-night stays every 4 days from 2022-01-03, so the exclusion constraint holds;
-- every 10th is cancelled. Creation times follow the stays (a booking is made 30 days ahead). Every
-- 10th gap night (the 4th night of every 40, never held by a stay) carries a one-night maintenance block.
\set ON_ERROR_STOP on
SET synchronous_commit = off;
BEGIN;
INSERT INTO agencies (id, name, created_at)
SELECT md5('agency-' || i)::uuid, 'Bench Agency ' || i, timestamptz '2021-12-01' + i * interval '1 second'
FROM generate_series(:a_from, :a_to) AS i;

INSERT INTO auth.users (id, email, password_hash, full_name)
SELECT md5('user-' || r || '-' || i)::uuid, r || '-' || i || '@bench.innkeep.test',
       '$2b$10$benchbenchbenchbenchbeOqGm0wq1pBRuK9yS5/0RkO0W0m1PZ0y', 'Bench ' || r || ' ' || i
FROM generate_series(:a_from, :a_to) AS i, unnest(ARRAY['admin', 'manager', 'staff', 'owner', 'accountant']) AS r;

INSERT INTO team_members (agency_id, user_id, role)
SELECT md5('agency-' || i)::uuid, md5('user-' || r || '-' || i)::uuid, r
FROM generate_series(:a_from, :a_to) AS i, unnest(ARRAY['admin', 'manager', 'staff', 'owner', 'accountant']) AS r;

INSERT INTO properties (agency_id, id, owner_id, name, address, timezone, max_guests, status, created_at, updated_at)
SELECT md5('agency-' || i)::uuid, md5('property-' || i || '-' || j)::uuid,
       CASE WHEN j % 4 = 1 THEN md5('user-owner-' || i)::uuid END,
       'Bench Property ' || i || '/' || j, j || ' Benchmark Street, Lisbon', 'Europe/Lisbon', 8, 'active',
       timestamptz '2021-12-02' + j * interval '1 hour', timestamptz '2021-12-02' + j * interval '1 hour'
FROM generate_series(:a_from, :a_to) AS i, generate_series(1, :props) AS j;

INSERT INTO bookings (agency_id, property_id, guest_name, guest_email, check_in, check_out, guests, status, source,
                      total_amount_cents, currency, notes, created_by, created_at, cancelled_at)
SELECT md5('agency-' || i)::uuid, md5('property-' || i || '-' || j)::uuid,
       'Guest ' || k, 'guest' || k || '@example.com',
       date '2022-01-03' + 4 * k, date '2022-01-03' + 4 * k + 1 + k % 3,
       1 + k % 4,
       CASE WHEN k % 10 = 9 THEN 'cancelled' ELSE 'confirmed' END,
       (ARRAY['direct', 'airbnb', 'booking_com', 'vrbo', 'other'])[1 + k % 5],
       10000 + (k % 7) * 2500, 'EUR', CASE WHEN k % 5 = 0 THEN 'Late arrival' END,
       md5('user-manager-' || i)::uuid,
       timestamptz '2021-12-04' + 4 * k * interval '1 day' + j * interval '1 minute',
       CASE WHEN k % 10 = 9 THEN timestamptz '2021-12-05' + 4 * k * interval '1 day' END
FROM generate_series(:a_from, :a_to) AS i, generate_series(1, :props) AS j, generate_series(0, :bookings - 1) AS k
WHERE :sparse = 0 OR j % 3 <> 0;

INSERT INTO blocks (agency_id, property_id, start_date, end_date, kind, note, created_by, created_at)
SELECT md5('agency-' || i)::uuid, md5('property-' || i || '-' || j)::uuid,
       date '2022-01-03' + 4 * k + 3, date '2022-01-03' + 4 * k + 4, 'maintenance', 'Deep clean',
       md5('user-manager-' || i)::uuid, timestamptz '2021-12-04' + 4 * k * interval '1 day' + j * interval '1 minute'
FROM generate_series(:a_from, :a_to) AS i, generate_series(1, :props) AS j, generate_series(0, :bookings - 1, 10) AS k
WHERE :sparse = 0 OR j % 3 <> 0;

-- Every 4th property (j % 4 = 2) is listed on Airbnb; its feed token is md5-derived so bench/targets.py can
-- write the export URLs: md5('feed-' || i || '-' || j) || md5('feed2-' || i || '-' || j).
INSERT INTO channel_connections (agency_id, property_id, channel, external_listing_id, export_token, next_sync_at)
SELECT md5('agency-' || i)::uuid, md5('property-' || i || '-' || j)::uuid, 'airbnb', 'bench-' || i || '-' || j,
       md5('feed-' || i || '-' || j) || md5('feed2-' || i || '-' || j), 'infinity'
FROM generate_series(:a_from, :a_to) AS i, generate_series(1, :props) AS j
WHERE j % 4 = 2;
-- Those listed properties also have 20 upcoming stays, so their export feeds are not empty.
INSERT INTO bookings (agency_id, property_id, guest_name, check_in, check_out, guests, created_by, created_at)
SELECT md5('agency-' || i)::uuid, md5('property-' || i || '-' || j)::uuid, 'Upcoming ' || k,
       current_date + 4 * k + 1, current_date + 4 * k + 3, 2, md5('user-manager-' || i)::uuid, timestamptz '2021-12-03'
FROM generate_series(:a_from, :a_to) AS i, generate_series(1, :props) AS j, generate_series(0, 19) AS k
WHERE j % 4 = 2;
COMMIT;
ANALYZE agencies, auth.users, team_members, properties, bookings, blocks, occupancy, channel_connections;
