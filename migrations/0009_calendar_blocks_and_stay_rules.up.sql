-- 0009 calendar: stay rules on properties, blocks (nights that cannot be sold), and one table that
-- makes "nothing sells a night twice" a database guarantee for bookings and blocks together (SPEC §11).
--
-- `occupancy` holds one row per confirmed booking and per manual block, kept by triggers on both
-- tables, and its exclusion constraint is the one rule: no two rows of a property overlap. Bookings
-- and blocks therefore exclude each other with the strength bookings_no_overlap had for bookings alone,
-- whatever code path writes them and however many requests race. Channel blocks (kind 'channel')
-- record what already happened on another channel, so they get no occupancy row: they are stored even
-- when they overlap, and such overlaps are reported as conflicts (SPEC §12) instead of refused.

ALTER TABLE properties
    ADD COLUMN min_nights integer NOT NULL DEFAULT 1 CHECK (min_nights BETWEEN 1 AND 365),
    ADD COLUMN max_nights integer NOT NULL DEFAULT 365 CHECK (max_nights BETWEEN 1 AND 365),
    ADD CONSTRAINT properties_stay_rules CHECK (max_nights >= min_nights);

CREATE TABLE blocks (
    agency_id             uuid NOT NULL REFERENCES agencies (id) ON DELETE CASCADE,
    id                    uuid NOT NULL DEFAULT gen_random_uuid(),
    property_id           uuid NOT NULL,
    start_date            date NOT NULL,
    end_date              date NOT NULL,
    kind                  text NOT NULL CHECK (kind IN ('owner_stay', 'maintenance', 'hold', 'channel')),
    note                  text CHECK (length(note) <= 1000),
    channel_connection_id uuid,
    created_by            uuid REFERENCES auth.users (id) ON DELETE SET NULL,
    created_at            timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (agency_id, id),
    FOREIGN KEY (agency_id, property_id) REFERENCES properties (agency_id, id) ON DELETE CASCADE,
    -- A channel block belongs to the connection that imported it and goes with it.
    FOREIGN KEY (agency_id, channel_connection_id) REFERENCES channel_connections (agency_id, id) ON DELETE CASCADE,
    CHECK ((kind = 'channel') = (channel_connection_id IS NOT NULL)),
    CHECK (end_date > start_date),
    CHECK (end_date - start_date <= 730)
);
CREATE INDEX blocks_agency_created_idx ON blocks (agency_id, created_at DESC, id DESC);
CREATE INDEX blocks_agency_property_nights_idx ON blocks
    USING gist (agency_id, property_id, daterange(start_date, end_date, '[)'));

CREATE TABLE occupancy (
    agency_id   uuid NOT NULL,
    id          uuid NOT NULL DEFAULT gen_random_uuid(),
    property_id uuid NOT NULL,
    nights      daterange NOT NULL,
    booking_id  uuid,
    block_id    uuid,
    PRIMARY KEY (agency_id, id),
    FOREIGN KEY (agency_id, property_id) REFERENCES properties (agency_id, id) ON DELETE CASCADE,
    FOREIGN KEY (agency_id, booking_id) REFERENCES bookings (agency_id, id) ON DELETE CASCADE,
    FOREIGN KEY (agency_id, block_id) REFERENCES blocks (agency_id, id) ON DELETE CASCADE,
    CHECK (num_nonnulls(booking_id, block_id) = 1),
    UNIQUE (agency_id, booking_id),
    UNIQUE (agency_id, block_id),
    CONSTRAINT occupancy_no_overlap EXCLUDE USING gist (
        agency_id WITH =,
        property_id WITH =,
        nights WITH &&
    )
);

-- A confirmed booking occupies its nights; a cancelled one frees them. Deletes cascade by foreign key.
CREATE FUNCTION occupancy_follow_booking() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        DELETE FROM occupancy WHERE agency_id = OLD.agency_id AND booking_id = OLD.id;
    END IF;
    IF NEW.status = 'confirmed' THEN
        INSERT INTO occupancy (agency_id, property_id, nights, booking_id)
        VALUES (NEW.agency_id, NEW.property_id, daterange(NEW.check_in, NEW.check_out, '[)'), NEW.id);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER bookings_occupancy AFTER INSERT OR UPDATE OF status, check_in, check_out, property_id ON bookings
    FOR EACH ROW EXECUTE FUNCTION occupancy_follow_booking();

-- A manual block occupies its nights; a channel block never does (see above).
CREATE FUNCTION occupancy_follow_block() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        DELETE FROM occupancy WHERE agency_id = OLD.agency_id AND block_id = OLD.id;
    END IF;
    IF NEW.kind <> 'channel' THEN
        INSERT INTO occupancy (agency_id, property_id, nights, block_id)
        VALUES (NEW.agency_id, NEW.property_id, daterange(NEW.start_date, NEW.end_date, '[)'), NEW.id);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER blocks_occupancy AFTER INSERT OR UPDATE OF kind, start_date, end_date, property_id ON blocks
    FOR EACH ROW EXECUTE FUNCTION occupancy_follow_block();

INSERT INTO occupancy (agency_id, property_id, nights, booking_id)
SELECT agency_id, property_id, daterange(check_in, check_out, '[)'), id FROM bookings WHERE status = 'confirmed';

-- occupancy_no_overlap now covers bookings against bookings too.
ALTER TABLE bookings DROP CONSTRAINT bookings_no_overlap;

ALTER TABLE blocks ENABLE ROW LEVEL SECURITY;
ALTER TABLE blocks FORCE ROW LEVEL SECURITY;
CREATE POLICY blocks_tenant ON blocks
    USING (agency_id = app_agency_id()) WITH CHECK (agency_id = app_agency_id());

ALTER TABLE occupancy ENABLE ROW LEVEL SECURITY;
ALTER TABLE occupancy FORCE ROW LEVEL SECURITY;
CREATE POLICY occupancy_tenant ON occupancy
    USING (agency_id = app_agency_id()) WITH CHECK (agency_id = app_agency_id());

GRANT SELECT, INSERT, UPDATE, DELETE ON blocks TO innkeep_app;
GRANT SELECT, INSERT, DELETE ON occupancy TO innkeep_app;
