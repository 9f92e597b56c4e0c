-- 0016 one-statement reads (issue 17): a hot list admits its caller and reads in one statement, its own
-- transaction, instead of BEGIN, app_enter_request, the query and COMMIT (four round trips).
--
-- app_admit sets the request's settings like app_enter_request and then decides admission itself: the
-- caller must be a member of the agency X-Agency-Id names (or, without the header, of exactly one agency)
-- with one of p_roles. Only then is app.agency_id set. Otherwise it raises SQLSTATE IK403 and sets
-- nothing the caller could use: the API then answers through the full path (RouteBuilder.tenant), which
-- looks the memberships up and writes the exact 401/403/400. Invoker's rights, no SET clause: the lookup
-- runs as the runtime role under team_members' row-level security, with the app.user_id it has just set.
CREATE FUNCTION app_admit(p_user uuid, p_agency uuid, p_roles text[])
    RETURNS TABLE (admitted_agency uuid, admitted_role text)
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
    RETURN QUERY SELECT a::uuid, r;
END
$$;

-- One page of an agency's properties, newest first: the query of GET /api/v1/properties, in one place for
-- both paths (PropertyRepository.list runs it inside the request's transaction; app_list_properties after
-- app_admit). Plain SQL, so the planner inlines it and plans with the arguments' values. Row-level
-- security applies as to any statement of the caller's.
CREATE FUNCTION app_properties_page(p_agency uuid, p_owner uuid, p_status text, p_after_micros bigint, p_after_id uuid, p_limit integer)
    RETURNS SETOF properties
    LANGUAGE sql STABLE
    AS $$
    SELECT * FROM properties
     WHERE agency_id = p_agency
       AND (p_owner IS NULL OR owner_id = p_owner)
       AND (p_status IS NULL OR status = p_status)
       AND (p_after_micros IS NULL
            OR (created_at, id) < (timestamptz 'epoch' + p_after_micros * interval '1 microsecond', p_after_id))
     ORDER BY created_at DESC, id DESC
     LIMIT p_limit
$$;

-- GET /api/v1/properties in one statement. An owner sees only their own properties (Caller.ownerScope).
-- The SET clause plans the page with each call's arguments (a cached generic plan could not drop the
-- filters a call leaves NULL) and, on return, also restores the settings app_admit set: the statement's
-- rows were read under them, and nothing after it sees them.
CREATE FUNCTION app_list_properties(p_user uuid, p_agency uuid, p_roles text[], p_status text, p_after_micros bigint, p_after_id uuid, p_limit integer)
    RETURNS SETOF properties
    LANGUAGE plpgsql VOLATILE
    SET plan_cache_mode = force_custom_plan
    AS $$
DECLARE
    admitted record;
BEGIN
    SELECT * INTO admitted FROM app_admit(p_user, p_agency, p_roles);
    RETURN QUERY SELECT * FROM app_properties_page(
        admitted.admitted_agency,
        CASE WHEN admitted.admitted_role = 'owner' THEN p_user END,
        p_status, p_after_micros, p_after_id, p_limit);
END
$$;
