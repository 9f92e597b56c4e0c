-- 0003 channel connections: a property's listing on Airbnb, Booking.com, Vrbo or an iCal feed.

CREATE TABLE channel_connections (
    agency_id           uuid NOT NULL REFERENCES agencies (id) ON DELETE CASCADE,
    id                  uuid NOT NULL DEFAULT gen_random_uuid(),
    property_id         uuid NOT NULL,
    channel             text NOT NULL CHECK (channel IN ('airbnb', 'booking_com', 'vrbo', 'ical')),
    external_listing_id text NOT NULL CHECK (length(external_listing_id) BETWEEN 1 AND 200),
    ical_url            text CHECK (length(ical_url) <= 2000),
    status              text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'paused', 'error')),
    last_synced_at      timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (agency_id, id),
    FOREIGN KEY (agency_id, property_id) REFERENCES properties (agency_id, id) ON DELETE CASCADE,
    -- One listing is connected once per agency.
    UNIQUE (agency_id, channel, external_listing_id)
);
CREATE INDEX channel_connections_agency_created_idx ON channel_connections (agency_id, created_at DESC, id DESC);
CREATE INDEX channel_connections_agency_property_idx ON channel_connections (agency_id, property_id);

ALTER TABLE channel_connections ENABLE ROW LEVEL SECURITY;
ALTER TABLE channel_connections FORCE ROW LEVEL SECURITY;
CREATE POLICY channel_connections_tenant ON channel_connections
    USING (agency_id = app_agency_id()) WITH CHECK (agency_id = app_agency_id());

GRANT SELECT, INSERT, UPDATE, DELETE ON channel_connections TO innkeep_app;
