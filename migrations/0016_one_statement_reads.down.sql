DROP FUNCTION app_list_properties(uuid, uuid, text[], text, bigint, uuid, integer);
DROP FUNCTION app_properties_page(uuid, uuid, text, bigint, uuid, integer);
DROP FUNCTION app_admit(uuid, uuid, text[]);
