-- Reverts 0008_bookings_stay_index.
DROP INDEX bookings_agency_property_stay_idx;
