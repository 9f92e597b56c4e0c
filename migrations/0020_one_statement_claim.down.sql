-- Reverts 0020. Lossless: it only adds functions.
DROP FUNCTION app_keep_answer(uuid, text, integer, text);
DROP FUNCTION app_admit_and_claim_key(uuid, uuid, text[], text, text, text, text, integer, integer, integer);
DROP FUNCTION app_claim_key(uuid, uuid, text, text, text, text, integer, integer);
