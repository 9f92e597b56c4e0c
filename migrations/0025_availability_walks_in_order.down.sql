-- Reverts 0025: the search's plan may sort its candidates again.
ALTER FUNCTION app_available_page_json(uuid, date, date, integer, bigint, uuid, integer) RESET enable_sort;
