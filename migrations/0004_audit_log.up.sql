-- 0004 audit log (seed schema, tenant-keyed). Append-only for the API: INSERT and SELECT, nothing else.

CREATE TABLE audit_log (
    agency_id     uuid NOT NULL REFERENCES agencies (id) ON DELETE CASCADE,
    id            uuid NOT NULL DEFAULT gen_random_uuid(),
    user_id       uuid REFERENCES auth.users (id) ON DELETE SET NULL,
    action        text NOT NULL,
    resource_type text,
    resource_id   uuid,
    details       jsonb,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (agency_id, id)
);
CREATE INDEX idx_audit_log_agency ON audit_log (agency_id, created_at DESC, id DESC);
CREATE INDEX audit_log_agency_resource_idx ON audit_log (agency_id, resource_type, resource_id);

ALTER TABLE audit_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_log FORCE ROW LEVEL SECURITY;
CREATE POLICY audit_log_tenant ON audit_log
    USING (agency_id = app_agency_id()) WITH CHECK (agency_id = app_agency_id());

GRANT SELECT, INSERT ON audit_log TO innkeep_app;
