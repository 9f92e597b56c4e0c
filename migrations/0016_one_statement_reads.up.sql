-- 0016 one-statement reads (issue 17): the hot lists (properties, bookings) admit their caller and read in one
-- statement, its own transaction, instead of BEGIN, app_enter_request, the query and COMMIT (four round trips).
--
-- app_admit sets the request's settings like app_enter_request and then decides admission itself: the
-- caller must be a member of the agency X-Agency-Id names (or, without the header, of exactly one agency)
-- with one of p_roles. Only then is app.agency_id set. Otherwise it raises SQLSTATE IK403 and sets
-- nothing the caller could use: the API then answers through the full path (RouteBuilder.tenant), which
-- looks the memberships up and writes the exact 401/403/400. Invoker's rights, no SET clause: the lookup
-- runs as the runtime role under team_members' row-level security, with the app.user_id it has just set.
-- Returns the agency and the owner scope: the caller when their role is owner (they see only their own
-- properties and those properties' bookings, as Caller.ownerScope), NULL for every other role.
CREATE FUNCTION app_admit(p_user uuid, p_agency uuid, p_roles text[])
    RETURNS TABLE (admitted_agency uuid, owner_scope uuid)
    LANGUAGE plpgsql VOLATILE
    AS $$
DECLARE
    n integer;
    a text;
    r text;
BEGIN
    PERFORM set_config('app.user_id', COALESCE(p_user::text, ''), true),
            set_config('app.agency_id', '', true),
            set_config('app.worker', '', true);
    SELECT count(*), min(tm.agency_id::text), min(tm.role) INTO n, a, r
      FROM team_members tm
     WHERE tm.user_id = p_user AND (p_agency IS NULL OR tm.agency_id = p_agency);
    IF n <> 1 OR NOT (r = ANY (p_roles)) THEN
        RAISE EXCEPTION 'not admitted in one statement; the full request path answers' USING ERRCODE = 'IK403';
    END IF;
    PERFORM set_config('app.agency_id', a, true);
    RETURN QUERY SELECT a::uuid, CASE WHEN r = 'owner' THEN p_user END;
END
$$;

-- One page of an agency's properties, newest first: the query of GET /api/v1/properties, in one place for
-- both paths (PropertyRepository.list runs it inside the request's transaction; app_list_properties after
-- app_admit). Row-level security applies as to any statement of the caller's. plpgsql keeps the parsed
-- query for the session; the SET clause plans it with each call's values, as a statement sent on its own
-- would be (a cached generic plan could not drop the filters a call leaves NULL nor pick the owner index).
-- Measured with pgbench (docs/benchmarks.md): a plain SQL function here is re-parsed on every call when
-- inlined, and cost Postgres more than the four statements it replaced.
CREATE FUNCTION app_properties_page(p_agency uuid, p_owner uuid, p_status text, p_after_micros bigint, p_after_id uuid, p_limit integer)
    RETURNS SETOF properties
    LANGUAGE plpgsql STABLE
    SET plan_cache_mode = force_custom_plan
    AS $$
BEGIN
    RETURN QUERY SELECT * FROM properties
     WHERE agency_id = p_agency
       AND (p_owner IS NULL OR owner_id = p_owner)
       AND (p_status IS NULL OR status = p_status)
       AND (p_after_micros IS NULL
            OR (created_at, id) < (timestamptz 'epoch' + p_after_micros * interval '1 microsecond', p_after_id))
     ORDER BY created_at DESC, id DESC
     LIMIT p_limit;
END
$$;

-- GET /api/v1/properties in one statement: app_admit, then the page with the owner scope it returned. No SET
-- clause: app_admit's settings last until the statement's transaction ends, the statement itself.
CREATE FUNCTION app_list_properties(p_user uuid, p_agency uuid, p_roles text[], p_status text, p_after_micros bigint, p_after_id uuid, p_limit integer)
    RETURNS SETOF properties
    LANGUAGE plpgsql VOLATILE
    AS $$
DECLARE
    admitted record;
BEGIN
    SELECT * INTO admitted FROM app_admit(p_user, p_agency, p_roles);
    RETURN QUERY SELECT * FROM app_properties_page(
        admitted.admitted_agency, admitted.owner_scope, p_status, p_after_micros, p_after_id, p_limit);
END
$$;

-- One page of an agency's bookings, newest first: the query of GET /api/v1/bookings (BookingRepository.list),
-- as app_properties_page is for properties (plpgsql, planned with each call's values: the property and date
-- filters want their own index). An owner scope keeps the bookings of that owner's properties; from/to keep
-- the stays that overlap [from, to].
CREATE FUNCTION app_bookings_page(
    p_agency uuid, p_owner uuid, p_property uuid, p_status text, p_from date, p_to date,
    p_after_micros bigint, p_after_id uuid, p_limit integer)
    RETURNS SETOF bookings
    LANGUAGE plpgsql STABLE
    SET plan_cache_mode = force_custom_plan
    AS $$
BEGIN
    RETURN QUERY SELECT b.* FROM bookings b
     WHERE b.agency_id = p_agency
       AND (p_owner IS NULL OR EXISTS (
            SELECT 1 FROM properties p WHERE p.agency_id = b.agency_id AND p.id = b.property_id AND p.owner_id = p_owner))
       AND (p_property IS NULL OR b.property_id = p_property)
       AND (p_status IS NULL OR b.status = p_status)
       AND (p_from IS NULL AND p_to IS NULL
            OR daterange(b.check_in, b.check_out, '[)') && daterange(p_from, p_to, '[]'))
       AND (p_from IS NULL OR b.check_out > p_from)
       AND (p_to IS NULL OR b.check_in < p_to)
       AND (p_after_micros IS NULL
            OR (b.created_at, b.id) < (timestamptz 'epoch' + p_after_micros * interval '1 microsecond', p_after_id))
     ORDER BY b.created_at DESC, b.id DESC
     LIMIT p_limit;
END
$$;

-- GET /api/v1/bookings in one statement, as app_list_properties.
CREATE FUNCTION app_list_bookings(
    p_user uuid, p_agency uuid, p_roles text[], p_property uuid, p_status text, p_from date, p_to date,
    p_after_micros bigint, p_after_id uuid, p_limit integer)
    RETURNS SETOF bookings
    LANGUAGE plpgsql VOLATILE
    AS $$
DECLARE
    admitted record;
BEGIN
    SELECT * INTO admitted FROM app_admit(p_user, p_agency, p_roles);
    RETURN QUERY SELECT * FROM app_bookings_page(
        admitted.admitted_agency, admitted.owner_scope, p_property, p_status, p_from, p_to, p_after_micros, p_after_id, p_limit);
END
$$;
