-- Reverts 0017. Lossless: api_json is generated from the columns, which stay.
DROP FUNCTION app_list_bookings_json(uuid, uuid, text[], uuid, text, date, date, bigint, uuid, integer);
DROP FUNCTION app_bookings_page_json(uuid, uuid, uuid, text, date, date, bigint, uuid, integer);
ALTER TABLE bookings DROP COLUMN api_json;
DROP FUNCTION app_booking_json(uuid, uuid, uuid, text, text, date, date, integer, text, text, bigint, text, text, uuid, timestamptz, timestamptz);
DROP FUNCTION app_list_properties_json(uuid, uuid, text[], text, bigint, uuid, integer);
DROP FUNCTION app_properties_page_json(uuid, uuid, text, bigint, uuid, integer);
ALTER TABLE properties DROP COLUMN api_json;
DROP FUNCTION app_property_json(uuid, uuid, uuid, text, text, text, integer, integer, integer, text, timestamptz, timestamptz);
DROP FUNCTION app_rfc3339(timestamptz);
