-- 0017 pages written as JSON by Postgres (issue 17): GET /api/v1/properties and GET /api/v1/bookings get their
-- page as one row whose first column is the page's items, already JSON, instead of one row per item. Each row a list returned
-- cost the API ~20 µs of CPU (PostgresNIO's per-message decoding and row stream, then twelve cells read and
-- written again as JSON): most of a 50-property page (docs/benchmarks.md, "Issue 17, fourth pass").
--
-- app_property_json and app_booking_json write the objects Property.writeJSON and Booking.writeJSON write, byte
-- for byte: keys in ascending order, no whitespace, strings escaped by to_json (JSONValue.writeString escapes the
-- same characters the same way), timestamps as RFC 3339 UTC with six fractional digits (RFC3339.format), dates
-- as YYYY-MM-DD. WrittenJSONTests compares them.
CREATE FUNCTION app_rfc3339(t timestamptz) RETURNS text
    LANGUAGE sql STABLE
    AS $$ SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') $$;

CREATE FUNCTION app_property_json(p properties) RETURNS text
    LANGUAGE sql STABLE
    AS $$
    SELECT '{"address":' || to_json(p.address)::text
        || ',"agency_id":"' || p.agency_id::text
        || '","created_at":"' || app_rfc3339(p.created_at)
        || '","id":"' || p.id::text
        || '","max_guests":' || p.max_guests::text
        || ',"max_nights":' || p.max_nights::text
        || ',"min_nights":' || p.min_nights::text
        || ',"name":' || to_json(p.name)::text
        || ',"owner_id":' || COALESCE('"' || p.owner_id::text || '"', 'null')
        || ',"status":' || to_json(p.status)::text
        || ',"timezone":' || to_json(p.timezone)::text
        || ',"updated_at":"' || app_rfc3339(p.updated_at) || '"}'
$$;

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
        SELECT p, row_number() OVER (ORDER BY p.created_at DESC, p.id DESC) AS n
          FROM app_properties_page(p_agency, p_owner, p_status, p_after_micros, p_after_id, p_limit + 1) p)
    SELECT COALESCE(string_agg(app_property_json(page.p), ',' ORDER BY page.n) FILTER (WHERE page.n <= p_limit), ''),
           CASE WHEN max(page.n) > p_limit
                THEN max((extract(epoch FROM (page.p).created_at) * 1000000)::bigint) FILTER (WHERE page.n = p_limit) END,
           CASE WHEN max(page.n) > p_limit THEN (array_agg((page.p).id) FILTER (WHERE page.n = p_limit))[1] END
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

CREATE FUNCTION app_booking_json(b bookings) RETURNS text
    LANGUAGE sql STABLE
    AS $$
    SELECT '{"agency_id":"' || b.agency_id::text
        || '","cancelled_at":' || COALESCE('"' || app_rfc3339(b.cancelled_at) || '"', 'null')
        || ',"check_in":"' || to_char(b.check_in, 'YYYY-MM-DD')
        || '","check_out":"' || to_char(b.check_out, 'YYYY-MM-DD')
        || '","created_at":"' || app_rfc3339(b.created_at)
        || '","created_by":' || COALESCE('"' || b.created_by::text || '"', 'null')
        || ',"currency":' || COALESCE(to_json(b.currency)::text, 'null')
        || ',"guest_email":' || COALESCE(to_json(b.guest_email)::text, 'null')
        || ',"guest_name":' || to_json(b.guest_name)::text
        || ',"guests":' || b.guests::text
        || ',"id":"' || b.id::text
        || '","notes":' || COALESCE(to_json(b.notes)::text, 'null')
        || ',"property_id":"' || b.property_id::text
        || '","source":' || to_json(b.source)::text
        || ',"status":' || to_json(b.status)::text
        || ',"total_amount_cents":' || COALESCE(b.total_amount_cents::text, 'null') || '}'
$$;

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
        SELECT b, row_number() OVER (ORDER BY b.created_at DESC, b.id DESC) AS n
          FROM app_bookings_page(p_agency, p_owner, p_property, p_status, p_from, p_to, p_after_micros, p_after_id, p_limit + 1) b)
    SELECT COALESCE(string_agg(app_booking_json(page.b), ',' ORDER BY page.n) FILTER (WHERE page.n <= p_limit), ''),
           CASE WHEN max(page.n) > p_limit
                THEN max((extract(epoch FROM (page.b).created_at) * 1000000)::bigint) FILTER (WHERE page.n = p_limit) END,
           CASE WHEN max(page.n) > p_limit THEN (array_agg((page.b).id) FILTER (WHERE page.n = p_limit))[1] END
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

-- The functions these replace have no caller left.
DROP FUNCTION app_list_properties(uuid, uuid, text[], text, bigint, uuid, integer);
DROP FUNCTION app_list_bookings(uuid, uuid, text[], uuid, text, date, date, bigint, uuid, integer);
