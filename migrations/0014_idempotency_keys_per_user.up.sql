-- 0014 idempotency keys scoped per agency and per user (SPEC §7): another member's identical key is a
-- different key, so it can neither replay nor block theirs.

-- Keys written before user_id was always set cannot be attributed; they expire within 24 h anyway.
DELETE FROM idempotency_keys WHERE user_id IS NULL;
ALTER TABLE idempotency_keys ALTER COLUMN user_id SET NOT NULL;
ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_pkey;
ALTER TABLE idempotency_keys ADD CONSTRAINT idempotency_keys_pkey PRIMARY KEY (agency_id, user_id, key);
