-- 0019 one-statement calendar reads (issue 17): the iCal export feed, a property's calendar and the availability
-- search answer in one statement, its own transaction, instead of BEGIN, the settings, one or two queries and
-- COMMIT (four or five round trips).

-- What holds a property's nights in [p_from, p_to): its confirmed bookings (rank 0) and its blocks of every kind
-- (rank 1, with the kind), bookings first, then by first night; at most p_limit. One place for this query: the
-- calendar (both paths) and the checks before a new stay or block (CalendarRepository) all call it, and both
-- lookups use the GiST indexes on (agency_id, property_id, daterange) of bookings (0008) and blocks (0009).
-- plpgsql keeps the plan for the session. Invoker's rights: the caller's row-level security applies.
CREATE FUNCTION app_holders(p_agency uuid, p_property uuid, p_from date, p_to date, p_limit integer)
    RETURNS TABLE (rank integer, id uuid, kind text, first_night text, end_night text)
    LANGUAGE plpgsql STABLE
    AS $$
BEGIN
    RETURN QUERY
    SELECT 0, b.id, NULL::text, b.check_in::text, b.check_out::text FROM bookings b
     WHERE b.agency_id = p_agency AND b.property_id = p_property AND b.status = 'confirmed'
       AND daterange(b.check_in, b.check_out, '[)') && daterange(p_from, p_to, '[)')
    UNION ALL
    SELECT 1, k.id, k.kind, k.start_date::text, k.end_date::text FROM blocks k
     WHERE k.agency_id = p_agency AND k.property_id = p_property
       AND daterange(k.start_date, k.end_date, '[)') && daterange(p_from, p_to, '[)')
    ORDER BY 1, 4
    LIMIT p_limit;
END
$$;

-- GET /api/v1/properties/{id}/calendar?from=&to= in one statement: app_admit (migration 0016) with the endpoint's
-- roles, then the property's holders over the range, as the full path (CalendarController.calendar) reads them.
-- A property the caller may not see (none such, another agency's, or not the owner's own) raises SQLSTATE IK404
-- and the API answers through the full path, which writes the 404.
CREATE FUNCTION app_property_calendar(p_user uuid, p_agency uuid, p_roles text[], p_property uuid, p_from date, p_to date)
    RETURNS TABLE (rank integer, id uuid, kind text, first_night text, end_night text)
    LANGUAGE plpgsql VOLATILE
    AS $$
DECLARE
    admitted record;
BEGIN
    SELECT * INTO admitted FROM app_admit(p_user, p_agency, p_roles);
    IF NOT EXISTS (SELECT 1 FROM properties p
                    WHERE p.agency_id = admitted.admitted_agency AND p.id = p_property
                      AND (admitted.owner_scope IS NULL OR p.owner_id = admitted.owner_scope)) THEN
        RAISE EXCEPTION 'no such property in one statement; the full request path answers' USING ERRCODE = 'IK404';
    END IF;
    RETURN QUERY SELECT * FROM app_holders(admitted.admitted_agency, p_property, p_from, p_to, 10000);
END
$$;

-- GET /ical/{token}.ics in one statement: the settings of an anonymous request in the agency the token names (no
-- user), then the connection whose secret it is, with its property's time zone, and the property's confirmed
-- bookings and blocks that end after p_since, except the blocks this connection imported (a channel never gets
-- its own nights back). One row per event, by first night; one row with NULL event columns for a connection with
-- none; no row for a token that names no connection. The API computes today in the property's zone (Foundation's
-- time zones, which validated it) and drops the events that ended by then: p_since is the UTC date minus one,
-- at or before today in any zone.
CREATE FUNCTION app_ical_feed(p_agency uuid, p_secret text, p_since date)
    RETURNS TABLE (timezone text, is_booking boolean, id uuid, first_night text, end_night text, created_at timestamptz)
    LANGUAGE plpgsql VOLATILE
    AS $$
BEGIN
    PERFORM set_config('app.user_id', '', true),
            set_config('app.agency_id', p_agency::text, true),
            set_config('app.worker', '', true);
    RETURN QUERY
    SELECT p.timezone, e.* FROM channel_connections c
      JOIN properties p ON p.agency_id = c.agency_id AND p.id = c.property_id
      LEFT JOIN LATERAL (
          SELECT true, b.id, b.check_in::text, b.check_out::text, b.created_at FROM bookings b
           WHERE b.agency_id = c.agency_id AND b.property_id = c.property_id AND b.status = 'confirmed'
             AND b.check_out > p_since
          UNION ALL
          SELECT false, k.id, k.start_date::text, k.end_date::text, k.created_at FROM blocks k
           WHERE k.agency_id = c.agency_id AND k.property_id = c.property_id AND k.end_date > p_since
             AND k.channel_connection_id IS DISTINCT FROM c.id
      ) e (is_booking, id, first_night, end_night, created_at) ON true
     WHERE c.agency_id = p_agency AND c.export_token = p_secret
     ORDER BY e.first_night, e.id;
END
$$;

-- The agency's active properties free for every night of [p_check_in, p_check_out) that fit p_guests and whose
-- stay rules allow its length, newest first, after the cursor (SPEC §11): the query of GET /api/v1/availability,
-- in one place for both paths. Each candidate is probed through the GiST indexes of occupancy (confirmed bookings
-- and manual blocks) and of blocks (channel blocks, which occupancy does not hold), so it stays flat as bookings
-- grow. Planned with each call's values, as app_properties_page is (migration 0016).
CREATE FUNCTION app_available_properties(
    p_agency uuid, p_check_in date, p_check_out date, p_guests integer, p_after_micros bigint, p_after_id uuid, p_limit integer)
    RETURNS SETOF properties
    LANGUAGE plpgsql STABLE
    SET plan_cache_mode = force_custom_plan
    AS $$
BEGIN
    RETURN QUERY SELECT p.* FROM properties p
     WHERE p.agency_id = p_agency AND p.status = 'active' AND p.max_guests >= p_guests
       AND p.min_nights <= p_check_out - p_check_in AND p.max_nights >= p_check_out - p_check_in
       AND NOT EXISTS (
           SELECT 1 FROM occupancy o
            WHERE o.agency_id = p.agency_id AND o.property_id = p.id AND o.nights && daterange(p_check_in, p_check_out, '[)'))
       AND NOT EXISTS (
           SELECT 1 FROM blocks k
            WHERE k.agency_id = p.agency_id AND k.property_id = p.id AND k.kind = 'channel'
              AND daterange(k.start_date, k.end_date, '[)') && daterange(p_check_in, p_check_out, '[)'))
       AND (p_after_micros IS NULL
            OR (p.created_at, p.id) < (timestamptz 'epoch' + p_after_micros * interval '1 microsecond', p_after_id))
     ORDER BY p.created_at DESC, p.id DESC
     LIMIT p_limit;
END
$$;

-- GET /api/v1/availability in one statement: app_admit with the endpoint's roles, then app_available_properties
-- in the admitted agency. Each property as its JSON (api_json, migration 0017) with its position for the cursor.
CREATE FUNCTION app_availability(
    p_user uuid, p_agency uuid, p_roles text[], p_check_in date, p_check_out date, p_guests integer,
    p_after_micros bigint, p_after_id uuid, p_limit integer)
    RETURNS TABLE (api_json text, created_at timestamptz, id uuid)
    LANGUAGE plpgsql VOLATILE
    AS $$
DECLARE
    admitted record;
BEGIN
    SELECT * INTO admitted FROM app_admit(p_user, p_agency, p_roles);
    RETURN QUERY SELECT a.api_json, a.created_at, a.id FROM app_available_properties(
        admitted.admitted_agency, p_check_in, p_check_out, p_guests, p_after_micros, p_after_id, p_limit) a;
END
$$;
