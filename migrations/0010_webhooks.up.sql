-- 0009 webhooks (SPEC §13): endpoints per agency, a transactional outbox of events, and one delivery
-- row per endpoint per event, which the worker claims with FOR UPDATE SKIP LOCKED.
--
-- Fan-out happens when the event is written (Outbox.emit, in the action's own transaction): the
-- deliveries of an event are fixed at that moment, UNIQUE (agency_id, endpoint_id, event_id) makes
-- a second delivery of one event to one endpoint impossible, and the worker only ever claims rows.

CREATE TABLE webhook_endpoints (
    agency_id                   uuid NOT NULL REFERENCES agencies (id) ON DELETE CASCADE,
    id                          uuid NOT NULL DEFAULT gen_random_uuid(),
    url                         text NOT NULL CHECK (length(url) BETWEEN 1 AND 2000),
    description                 text NOT NULL DEFAULT '' CHECK (length(description) <= 500),
    events                      text[] NOT NULL CHECK (cardinality(events) BETWEEN 1 AND 20),
    enabled                     boolean NOT NULL DEFAULT true,
    -- `whsec_` + base64 of 32 random bytes. The worker must sign with it, so it is stored as is
    -- (a hash would not do); the API returns it only from create and rotate-secret.
    secret                      text NOT NULL,
    -- After a rotation the old secret keeps signing (a second signature) until it expires (24 h).
    previous_secret             text,
    previous_secret_expires_at  timestamptz,
    -- Why the worker disabled it (a 410 Gone), null otherwise.
    disabled_reason             text,
    created_at                  timestamptz NOT NULL DEFAULT now(),
    updated_at                  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (agency_id, id),
    CHECK ((previous_secret IS NULL) = (previous_secret_expires_at IS NULL))
);
CREATE INDEX webhook_endpoints_agency_created_idx ON webhook_endpoints (agency_id, created_at DESC, id DESC);

CREATE TABLE webhook_events (
    agency_id  uuid NOT NULL REFERENCES agencies (id) ON DELETE CASCADE,
    -- Sent as `webhook-id`: the same on every retry and to every endpoint.
    id         uuid NOT NULL DEFAULT gen_random_uuid(),
    type       text NOT NULL CHECK (length(type) BETWEEN 1 AND 100),
    -- The event's `data` (the object as the API shows it).
    payload    jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (agency_id, id)
);

CREATE TABLE webhook_deliveries (
    agency_id        uuid NOT NULL REFERENCES agencies (id) ON DELETE CASCADE,
    id               uuid NOT NULL DEFAULT gen_random_uuid(),
    endpoint_id      uuid NOT NULL,
    event_id         uuid NOT NULL,
    status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'succeeded', 'retrying', 'failed')),
    -- Attempts made so far.
    attempt          integer NOT NULL DEFAULT 0 CHECK (attempt >= 0),
    -- When it is due (pending, retrying); null once it is final.
    next_attempt_at  timestamptz DEFAULT now(),
    response_status  integer,
    error            text CHECK (length(error) <= 500),
    duration_ms      integer,
    -- A worker's claim: no other worker takes the row before `locked_until`; a worker that dies
    -- mid-delivery loses its claim when it expires, and the delivery goes out again (at least once).
    locked_by        text,
    locked_until     timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (agency_id, id),
    UNIQUE (agency_id, endpoint_id, event_id),
    FOREIGN KEY (agency_id, endpoint_id) REFERENCES webhook_endpoints (agency_id, id) ON DELETE CASCADE,
    FOREIGN KEY (agency_id, event_id) REFERENCES webhook_events (agency_id, id) ON DELETE CASCADE,
    CHECK ((status IN ('pending', 'retrying')) = (next_attempt_at IS NOT NULL))
);
-- The worker's queue (the claim takes an endpoint's due rows, oldest first, a few per endpoint). Partial: it
-- holds only the waiting rows, so the queue gauges of /metrics read it whole, cheaply.
CREATE INDEX webhook_deliveries_endpoint_due_idx ON webhook_deliveries (agency_id, endpoint_id, next_attempt_at)
    WHERE status IN ('pending', 'retrying');
-- An endpoint's log, newest first. (A delivery is found by its event through the unique key; every index
-- here is paid for by each event's insert, in the action's transaction.)
CREATE INDEX webhook_deliveries_endpoint_idx ON webhook_deliveries (agency_id, endpoint_id, created_at DESC, id DESC);

-- Tenant tables: a request sees its own agency's rows. The worker, which serves every agency, may
-- read them all and update deliveries (its claims); it never inserts or deletes. It records an
-- outcome (and a 410's disabling of an endpoint) inside the delivery's own agency, under the tenant
-- policy (documented in docs/security/tenant-isolation.md).
ALTER TABLE webhook_endpoints ENABLE ROW LEVEL SECURITY;
ALTER TABLE webhook_endpoints FORCE ROW LEVEL SECURITY;
CREATE POLICY webhook_endpoints_tenant ON webhook_endpoints
    USING (agency_id = app_agency_id()) WITH CHECK (agency_id = app_agency_id());
CREATE POLICY webhook_endpoints_worker_read ON webhook_endpoints FOR SELECT
    USING (current_setting('app.worker', true) = 'on');

ALTER TABLE webhook_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE webhook_events FORCE ROW LEVEL SECURITY;
CREATE POLICY webhook_events_tenant ON webhook_events
    USING (agency_id = app_agency_id()) WITH CHECK (agency_id = app_agency_id());
CREATE POLICY webhook_events_worker_read ON webhook_events FOR SELECT
    USING (current_setting('app.worker', true) = 'on');

ALTER TABLE webhook_deliveries ENABLE ROW LEVEL SECURITY;
ALTER TABLE webhook_deliveries FORCE ROW LEVEL SECURITY;
CREATE POLICY webhook_deliveries_tenant ON webhook_deliveries
    USING (agency_id = app_agency_id()) WITH CHECK (agency_id = app_agency_id());
CREATE POLICY webhook_deliveries_worker_read ON webhook_deliveries FOR SELECT
    USING (current_setting('app.worker', true) = 'on');
CREATE POLICY webhook_deliveries_worker_update ON webhook_deliveries FOR UPDATE
    USING (current_setting('app.worker', true) = 'on') WITH CHECK (current_setting('app.worker', true) = 'on');

GRANT SELECT, INSERT, UPDATE, DELETE ON webhook_endpoints, webhook_events, webhook_deliveries TO innkeep_app;
