-- Not exact for data: keys that two users of one agency share collapse to the newest one.
DELETE FROM idempotency_keys a USING idempotency_keys b
    WHERE a.agency_id = b.agency_id AND a.key = b.key AND (a.created_at, a.user_id) < (b.created_at, b.user_id);
ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_pkey;
ALTER TABLE idempotency_keys ADD CONSTRAINT idempotency_keys_pkey PRIMARY KEY (agency_id, key);
ALTER TABLE idempotency_keys ALTER COLUMN user_id DROP NOT NULL;
