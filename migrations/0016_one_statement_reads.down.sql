DROP FUNCTION app_list_bookings(uuid, uuid, text[], uuid, text, date, date, bigint, uuid, integer);
DROP FUNCTION app_bookings_page(uuid, uuid, uuid, text, date, date, bigint, uuid, integer);
DROP FUNCTION app_list_properties(uuid, uuid, text[], text, bigint, uuid, integer);
DROP FUNCTION app_properties_page(uuid, uuid, text, bigint, uuid, integer);
DROP FUNCTION app_admit(uuid, uuid, text[]);
