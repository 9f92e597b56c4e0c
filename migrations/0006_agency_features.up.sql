-- 0006 agency features: per-agency overrides of the feature registry in code.

CREATE TABLE agency_features (
    agency_id    uuid NOT NULL REFERENCES agencies (id) ON DELETE CASCADE,
    id           uuid NOT NULL DEFAULT gen_random_uuid(),
    feature_name text NOT NULL,
    enabled      boolean NOT NULL DEFAULT true,
    config       jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (agency_id, id),
    UNIQUE (agency_id, feature_name)
);

ALTER TABLE agency_features ENABLE ROW LEVEL SECURITY;
ALTER TABLE agency_features FORCE ROW LEVEL SECURITY;
CREATE POLICY agency_features_tenant ON agency_features
    USING (agency_id = app_agency_id()) WITH CHECK (agency_id = app_agency_id());

GRANT SELECT, INSERT, UPDATE, DELETE ON agency_features TO innkeep_app;
