-- 0005 idempotency keys, keyed (agency_id, key) so one agency's key never replays another's.

CREATE TABLE idempotency_keys (
    agency_id       uuid NOT NULL REFERENCES agencies (id) ON DELETE CASCADE,
    key             text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    user_id         uuid,
    request_method  text NOT NULL,
    request_path    text NOT NULL,
    request_hash    text NOT NULL,
    response_status integer,
    response_body   bytea,
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    PRIMARY KEY (agency_id, key)
);
CREATE INDEX idx_idempotency_keys_expires ON idempotency_keys (expires_at);

ALTER TABLE idempotency_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE idempotency_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY idempotency_keys_tenant ON idempotency_keys
    USING (agency_id = app_agency_id()) WITH CHECK (agency_id = app_agency_id());
-- Documented exception: the worker, which serves every agency, may see and delete expired keys only.
CREATE POLICY idempotency_keys_worker_read ON idempotency_keys FOR SELECT
    USING (current_setting('app.worker', true) = 'on' AND expires_at < now());
CREATE POLICY idempotency_keys_worker_purge ON idempotency_keys FOR DELETE
    USING (current_setting('app.worker', true) = 'on' AND expires_at < now());

GRANT SELECT, INSERT, UPDATE, DELETE ON idempotency_keys TO innkeep_app;
