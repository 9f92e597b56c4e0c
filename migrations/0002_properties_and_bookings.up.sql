-- 0002 properties and bookings. Bookings can never overlap: the exclusion constraint below is the
-- guarantee, so two racing requests for the same nights cannot both commit.

CREATE TABLE properties (
    agency_id  uuid NOT NULL REFERENCES agencies (id) ON DELETE CASCADE,
    id         uuid NOT NULL DEFAULT gen_random_uuid(),
    owner_id   uuid,
    name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    address    text NOT NULL DEFAULT '' CHECK (length(address) <= 500),
    timezone   text NOT NULL DEFAULT 'UTC',
    max_guests integer NOT NULL CHECK (max_guests BETWEEN 1 AND 100),
    status     text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'inactive')),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (agency_id, id),
    -- The owner must be a member of the same agency; removing the member clears the owner only.
    FOREIGN KEY (agency_id, owner_id) REFERENCES team_members (agency_id, user_id) ON DELETE SET NULL (owner_id)
);
CREATE INDEX properties_agency_created_idx ON properties (agency_id, created_at DESC, id DESC);
CREATE INDEX properties_agency_owner_idx ON properties (agency_id, owner_id);

CREATE TABLE bookings (
    agency_id          uuid NOT NULL REFERENCES agencies (id) ON DELETE CASCADE,
    id                 uuid NOT NULL DEFAULT gen_random_uuid(),
    property_id        uuid NOT NULL,
    guest_name         text NOT NULL CHECK (length(guest_name) BETWEEN 1 AND 200),
    guest_email        text CHECK (length(guest_email) <= 320),
    check_in           date NOT NULL,
    check_out          date NOT NULL,
    guests             integer NOT NULL CHECK (guests BETWEEN 1 AND 100),
    status             text NOT NULL DEFAULT 'confirmed' CHECK (status IN ('confirmed', 'cancelled')),
    source             text NOT NULL DEFAULT 'direct' CHECK (source IN ('direct', 'airbnb', 'booking_com', 'vrbo', 'other')),
    total_amount_cents bigint CHECK (total_amount_cents >= 0),
    currency           text CHECK (currency ~ '^[A-Z]{3}$'),
    notes              text CHECK (length(notes) <= 5000),
    created_by         uuid REFERENCES auth.users (id) ON DELETE SET NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    cancelled_at       timestamptz,
    PRIMARY KEY (agency_id, id),
    FOREIGN KEY (agency_id, property_id) REFERENCES properties (agency_id, id) ON DELETE CASCADE,
    CHECK (check_out > check_in),
    CHECK (check_out - check_in <= 365),
    CHECK ((status = 'cancelled') = (cancelled_at IS NOT NULL)),
    CONSTRAINT bookings_no_overlap EXCLUDE USING gist (
        agency_id WITH =,
        property_id WITH =,
        daterange(check_in, check_out, '[)') WITH &&
    ) WHERE (status = 'confirmed')
);
CREATE INDEX bookings_agency_created_idx ON bookings (agency_id, created_at DESC, id DESC);
CREATE INDEX bookings_agency_property_idx ON bookings (agency_id, property_id, check_in);

ALTER TABLE properties ENABLE ROW LEVEL SECURITY;
ALTER TABLE properties FORCE ROW LEVEL SECURITY;
CREATE POLICY properties_tenant ON properties
    USING (agency_id = app_agency_id()) WITH CHECK (agency_id = app_agency_id());

ALTER TABLE bookings ENABLE ROW LEVEL SECURITY;
ALTER TABLE bookings FORCE ROW LEVEL SECURITY;
CREATE POLICY bookings_tenant ON bookings
    USING (agency_id = app_agency_id()) WITH CHECK (agency_id = app_agency_id());

GRANT SELECT, INSERT, UPDATE, DELETE ON properties, bookings TO innkeep_app;
