-- Reverts 0019. Lossless: it only adds functions.
DROP FUNCTION app_availability(uuid, uuid, text[], date, date, integer, bigint, uuid, integer);
DROP FUNCTION app_available_properties(uuid, date, date, integer, bigint, uuid, integer);
DROP FUNCTION app_ical_feed(uuid, text, date);
DROP FUNCTION app_property_calendar(uuid, uuid, text[], uuid, date, date);
DROP FUNCTION app_holders(uuid, uuid, date, date, integer);
