-- 0017 pages written as JSON by Postgres (issue 17): GET /api/v1/properties and GET /api/v1/bookings get their
-- page as one row whose first column is the page's items, already JSON, instead of one row per item. Each row a
-- list returned cost the API ~20 µs of CPU (PostgresNIO's per-message decoding and row stream, then the cells
-- read and written again as JSON): most of a 50-property page (docs/benchmarks.md, "Issue 17, fourth pass").
--
-- Each row keeps its own JSON in a stored generated column, api_json, written when the row is written: building
-- it cost Postgres ~10 µs per row, which a list would pay on every read. Being generated, it cannot fall out of
-- step with the row's columns (updates and the owner FK's SET NULL recompute it). Adding it rewrites properties
-- and bookings under an ACCESS EXCLUSIVE lock: every read and write of them waits until it is done (about 10 µs
-- of JSON per row on top of the rewrite), so apply it at a quiet hour on a large database.
--
-- app_property_json and app_booking_json write the objects Property.writeJSON and Booking.writeJSON write, byte
-- for byte: keys in ascending order, no whitespace, strings escaped by to_json (JSONValue.writeString escapes the
-- same characters the same way), timestamps as RFC 3339 UTC with six fractional digits (RFC3339.format), dates
-- as YYYY-MM-DD. WrittenJSONTests compares them. They are declared IMMUTABLE, as a generated column requires,
-- and are: to_json of text, to_char with only numeric fields and uuid/integer output depend on no setting
-- (Postgres marks to_json and to_char STABLE for the types and patterns that do).
CREATE FUNCTION app_rfc3339(t timestamptz) RETURNS text
    LANGUAGE sql IMMUTABLE
    AS $$ SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') $$;

CREATE FUNCTION app_property_json(
    id uuid, agency_id uuid, owner_id uuid, name text, address text, timezone text,
    max_guests integer, min_nights integer, max_nights integer, status text, created_at timestamptz, updated_at timestamptz)
    RETURNS text
    LANGUAGE sql IMMUTABLE
    AS $$
    SELECT '{"address":' || to_json(address)::text
        || ',"agency_id":"' || agency_id::text
        || '","created_at":"' || app_rfc3339(created_at)
        || '","id":"' || id::text
        || '","max_guests":' || max_guests::text
        || ',"max_nights":' || max_nights::text
        || ',"min_nights":' || min_nights::text
        || ',"name":' || to_json(name)::text
        || ',"owner_id":' || COALESCE('"' || owner_id::text || '"', 'null')
        || ',"status":' || to_json(status)::text
        || ',"timezone":' || to_json(timezone)::text
        || ',"updated_at":"' || app_rfc3339(updated_at) || '"}'
$$;

ALTER TABLE properties ADD COLUMN api_json text NOT NULL GENERATED ALWAYS AS (app_property_json(
    id, agency_id, owner_id, name, address, timezone, max_guests, min_nights, max_nights, status, created_at, updated_at)) STORED;

-- One page of properties as JSON: the items of app_properties_page (asked for p_limit + 1 rows, the extra one
-- saying whether there is a next page), joined with commas in page order, and the (created_at, id) of the
-- page's last row when there is a next page (the API encodes it as next_cursor). Both list paths run it.
CREATE FUNCTION app_properties_page_json(p_agency uuid, p_owner uuid, p_status text, p_after_micros bigint, p_after_id uuid, p_limit integer)
    RETURNS TABLE (items text, next_micros bigint, next_id uuid)
    LANGUAGE plpgsql STABLE
    AS $$
BEGIN
    RETURN QUERY
    WITH page AS (
        SELECT p.api_json, p.created_at, p.id, row_number() OVER (ORDER BY p.created_at DESC, p.id DESC) AS n
          FROM app_properties_page(p_agency, p_owner, p_status, p_after_micros, p_after_id, p_limit + 1) p)
    SELECT COALESCE(string_agg(page.api_json, ',' ORDER BY page.n) FILTER (WHERE page.n <= p_limit), ''),
           CASE WHEN max(page.n) > p_limit
                THEN max((extract(epoch FROM page.created_at) * 1000000)::bigint) FILTER (WHERE page.n = p_limit) END,
           CASE WHEN max(page.n) > p_limit THEN (array_agg(page.id) FILTER (WHERE page.n = p_limit))[1] END
      FROM page;
END
$$;

-- GET /api/v1/properties in one statement, as app_list_properties (migration 0016) was, with the page as JSON.
CREATE FUNCTION app_list_properties_json(
    p_user uuid, p_agency uuid, p_roles text[], p_status text, p_after_micros bigint, p_after_id uuid, p_limit integer)
    RETURNS TABLE (items text, next_micros bigint, next_id uuid)
    LANGUAGE plpgsql VOLATILE
    AS $$
DECLARE
    admitted record;
BEGIN
    SELECT * INTO admitted FROM app_admit(p_user, p_agency, p_roles);
    RETURN QUERY SELECT * FROM app_properties_page_json(
        admitted.admitted_agency, admitted.owner_scope, p_status, p_after_micros, p_after_id, p_limit);
END
$$;

CREATE FUNCTION app_booking_json(
    id uuid, agency_id uuid, property_id uuid, guest_name text, guest_email text, check_in date, check_out date,
    guests integer, status text, source text, total_amount_cents bigint, currency text, notes text, created_by uuid,
    created_at timestamptz, cancelled_at timestamptz)
    RETURNS text
    LANGUAGE sql IMMUTABLE
    AS $$
    SELECT '{"agency_id":"' || agency_id::text
        || '","cancelled_at":' || COALESCE('"' || app_rfc3339(cancelled_at) || '"', 'null')
        || ',"check_in":"' || to_char(check_in, 'YYYY-MM-DD')
        || '","check_out":"' || to_char(check_out, 'YYYY-MM-DD')
        || '","created_at":"' || app_rfc3339(created_at)
        || '","created_by":' || COALESCE('"' || created_by::text || '"', 'null')
        || ',"currency":' || COALESCE(to_json(currency)::text, 'null')
        || ',"guest_email":' || COALESCE(to_json(guest_email)::text, 'null')
        || ',"guest_name":' || to_json(guest_name)::text
        || ',"guests":' || guests::text
        || ',"id":"' || id::text
        || '","notes":' || COALESCE(to_json(notes)::text, 'null')
        || ',"property_id":"' || property_id::text
        || '","source":' || to_json(source)::text
        || ',"status":' || to_json(status)::text
        || ',"total_amount_cents":' || COALESCE(total_amount_cents::text, 'null') || '}'
$$;

ALTER TABLE bookings ADD COLUMN api_json text NOT NULL GENERATED ALWAYS AS (app_booking_json(
    id, agency_id, property_id, guest_name, guest_email, check_in, check_out, guests, status, source, total_amount_cents,
    currency, notes, created_by, created_at, cancelled_at)) STORED;

-- One page of bookings as JSON, as app_properties_page_json.
CREATE FUNCTION app_bookings_page_json(
    p_agency uuid, p_owner uuid, p_property uuid, p_status text, p_from date, p_to date,
    p_after_micros bigint, p_after_id uuid, p_limit integer)
    RETURNS TABLE (items text, next_micros bigint, next_id uuid)
    LANGUAGE plpgsql STABLE
    AS $$
BEGIN
    RETURN QUERY
    WITH page AS (
        SELECT b.api_json, b.created_at, b.id, row_number() OVER (ORDER BY b.created_at DESC, b.id DESC) AS n
          FROM app_bookings_page(p_agency, p_owner, p_property, p_status, p_from, p_to, p_after_micros, p_after_id, p_limit + 1) b)
    SELECT COALESCE(string_agg(page.api_json, ',' ORDER BY page.n) FILTER (WHERE page.n <= p_limit), ''),
           CASE WHEN max(page.n) > p_limit
                THEN max((extract(epoch FROM page.created_at) * 1000000)::bigint) FILTER (WHERE page.n = p_limit) END,
           CASE WHEN max(page.n) > p_limit THEN (array_agg(page.id) FILTER (WHERE page.n = p_limit))[1] END
      FROM page;
END
$$;

-- GET /api/v1/bookings in one statement, as app_list_bookings (migration 0016) was, with the page as JSON.
CREATE FUNCTION app_list_bookings_json(
    p_user uuid, p_agency uuid, p_roles text[], p_property uuid, p_status text, p_from date, p_to date,
    p_after_micros bigint, p_after_id uuid, p_limit integer)
    RETURNS TABLE (items text, next_micros bigint, next_id uuid)
    LANGUAGE plpgsql VOLATILE
    AS $$
DECLARE
    admitted record;
BEGIN
    SELECT * INTO admitted FROM app_admit(p_user, p_agency, p_roles);
    RETURN QUERY SELECT * FROM app_bookings_page_json(
        admitted.admitted_agency, admitted.owner_scope, p_property, p_status, p_from, p_to, p_after_micros, p_after_id, p_limit);
END
$$;

-- app_list_properties and app_list_bookings (migration 0016) have no caller in this release but stay: the release
-- before calls them, and keeps serving during a rolling deploy (docs/ops/migrations.md). A later release drops them.
