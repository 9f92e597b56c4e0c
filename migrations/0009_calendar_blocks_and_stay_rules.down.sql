-- Reverts 0009. Blocks are dropped with their data; bookings keep theirs and get their own
-- exclusion constraint back (it holds: occupancy guaranteed the same rule while it existed).
ALTER TABLE bookings ADD CONSTRAINT bookings_no_overlap EXCLUDE USING gist (
    agency_id WITH =,
    property_id WITH =,
    daterange(check_in, check_out, '[)') WITH &&
) WHERE (status = 'confirmed');

DROP TRIGGER bookings_occupancy ON bookings;
DROP TABLE occupancy;
DROP TABLE blocks;
DROP FUNCTION occupancy_follow_block();
DROP FUNCTION occupancy_follow_booking();

ALTER TABLE properties
    DROP CONSTRAINT properties_stay_rules,
    DROP COLUMN max_nights,
    DROP COLUMN min_nights;
