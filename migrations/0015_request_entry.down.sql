DROP FUNCTION app_enter_request(uuid, uuid);
