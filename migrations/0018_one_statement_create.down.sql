-- Reverts 0018. Lossless: it only adds functions.
DROP FUNCTION app_create_booking(uuid, uuid, text[], uuid, text, text, date, date, integer, text, bigint, text, text);
DROP FUNCTION app_emit(uuid, text, jsonb, uuid);
