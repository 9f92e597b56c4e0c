-- 0011 channel sync by iCal (SPEC §12): each connection publishes a secret feed and imports the
-- channel's feed into channel blocks; overlaps with what Innkeep already sold become conflicts.

-- The export token is the secret half of the feed URL (/ical/<agency hex><token>.ics): two v4 UUIDs
-- from the server's strong random source, 244 random bits. The URL carries the agency so the anonymous
-- feed request runs under that agency's RLS scope like any other tenant query (no cross-tenant lookup).
CREATE FUNCTION new_export_token() RETURNS text LANGUAGE sql VOLATILE
    AS $$ SELECT replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', '') $$;

ALTER TABLE channel_connections
    ADD COLUMN export_token text NOT NULL DEFAULT new_export_token() CHECK (export_token ~ '^[0-9a-f]{64}$'),
    ADD COLUMN sync_interval_minutes integer NOT NULL DEFAULT 30 CHECK (sync_interval_minutes BETWEEN 5 AND 1440),
    ADD COLUMN last_sync_status text CHECK (last_sync_status IN ('ok', 'error')),
    ADD COLUMN last_error text CHECK (length(last_error) <= 1000),
    ADD COLUMN imported_events integer NOT NULL DEFAULT 0,
    -- Conditional-request validators from the channel's last 200 (304 = unchanged).
    ADD COLUMN feed_etag text CHECK (length(feed_etag) <= 1000),
    ADD COLUMN feed_last_modified text CHECK (length(feed_last_modified) <= 1000),
    -- When the worker should sync next (a sync request sets it to now), and until when one worker
    -- holds it: one sync per connection at a time, however many workers run.
    ADD COLUMN next_sync_at timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN sync_locked_until timestamptz,
    ADD CONSTRAINT channel_connections_export_token_key UNIQUE (agency_id, export_token);
CREATE INDEX channel_connections_due_idx ON channel_connections (next_sync_at)
    WHERE status = 'active' AND ical_url IS NOT NULL;

-- The worker claims due syncs across agencies, as it claims jobs (0007).
CREATE POLICY channel_connections_worker ON channel_connections
    USING (current_setting('app.worker', true) = 'on') WITH CHECK (current_setting('app.worker', true) = 'on');

-- A channel block is one event of its connection's feed, found again by its UID.
ALTER TABLE blocks
    ADD COLUMN external_uid text CHECK (length(external_uid) <= 1000),
    ADD CONSTRAINT blocks_channel_uid CHECK ((kind = 'channel') = (external_uid IS NOT NULL)),
    ADD CONSTRAINT blocks_connection_uid_key UNIQUE (agency_id, channel_connection_id, external_uid);

CREATE TABLE channel_conflicts (
    agency_id              uuid NOT NULL REFERENCES agencies (id) ON DELETE CASCADE,
    id                     uuid NOT NULL DEFAULT gen_random_uuid(),
    property_id            uuid NOT NULL,
    channel_connection_id  uuid NOT NULL,
    -- The imported channel block, and what it overlaps: a confirmed booking or another block. Plain
    -- ids, not foreign keys: a conflict outlives the booking or block whose end resolved it.
    block_id               uuid NOT NULL,
    start_date             date NOT NULL,
    end_date               date NOT NULL,
    conflicting_booking_id uuid,
    conflicting_block_id   uuid,
    status                 text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved')),
    detected_at            timestamptz NOT NULL DEFAULT now(),
    resolved_at            timestamptz,
    PRIMARY KEY (agency_id, id),
    FOREIGN KEY (agency_id, property_id) REFERENCES properties (agency_id, id) ON DELETE CASCADE,
    FOREIGN KEY (agency_id, channel_connection_id) REFERENCES channel_connections (agency_id, id) ON DELETE CASCADE,
    CHECK (num_nonnulls(conflicting_booking_id, conflicting_block_id) = 1),
    CHECK ((status = 'resolved') = (resolved_at IS NOT NULL))
);
-- One open conflict per overlapping pair, however many syncs see it.
CREATE UNIQUE INDEX channel_conflicts_open_pair_idx ON channel_conflicts
    (agency_id, block_id, coalesce(conflicting_booking_id, conflicting_block_id)) WHERE status = 'open';
CREATE INDEX channel_conflicts_agency_detected_idx ON channel_conflicts (agency_id, detected_at DESC, id DESC);
CREATE INDEX channel_conflicts_agency_property_idx ON channel_conflicts (agency_id, property_id) WHERE status = 'open';

ALTER TABLE channel_conflicts ENABLE ROW LEVEL SECURITY;
ALTER TABLE channel_conflicts FORCE ROW LEVEL SECURITY;
CREATE POLICY channel_conflicts_tenant ON channel_conflicts
    USING (agency_id = app_agency_id()) WITH CHECK (agency_id = app_agency_id());

-- The worker counts open conflicts of every agency for the metrics gauge.
CREATE POLICY channel_conflicts_worker_read ON channel_conflicts FOR SELECT
    USING (current_setting('app.worker', true) = 'on');

GRANT SELECT, INSERT, UPDATE, DELETE ON channel_conflicts TO innkeep_app;
