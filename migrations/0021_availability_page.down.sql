-- Reverts 0021. Lossless: it only adds an index and functions.
DROP FUNCTION app_availability_json(uuid, uuid, text[], date, date, integer, bigint, uuid, integer);
DROP FUNCTION app_available_page_json(uuid, date, date, integer, bigint, uuid, integer);
DROP INDEX blocks_agency_property_end_idx;
