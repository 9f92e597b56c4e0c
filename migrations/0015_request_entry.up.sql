-- 0015 request entry (issue 17): one statement opens a tenant request's settings and returns the caller's
-- memberships, instead of set_config, the membership lookup and a second set_config (three round trips).
--
-- Invoker's rights, no SET clause (a SET clause would make the set_config calls local to the function):
-- the runtime role runs it, so the lookup below is filtered by team_members' row-level security with the
-- app.user_id it has just set, exactly as the statement it replaces was. app.user_id comes only from a
-- verified token (the API); p_agency is the agency X-Agency-Id names (NULL without the header) and is only
-- a setting: the API refuses the request right after this call unless the returned memberships include it.
-- Without the header, a user with exactly one membership gets that agency (SPEC §2); otherwise the agency
-- stays unset and the API answers 403/400 before any tenant statement runs.
-- One row per membership; one row of NULLs for a user without any; no row for an unknown user.
CREATE FUNCTION app_enter_request(p_user uuid, p_agency uuid)
    RETURNS TABLE (agency_id uuid, role text)
    LANGUAGE plpgsql VOLATILE
    AS $$
#variable_conflict use_column
DECLARE
    n integer := 0;
    only_agency uuid;
BEGIN
    PERFORM set_config('app.user_id', COALESCE(p_user::text, ''), true),
            set_config('app.agency_id', COALESCE(p_agency::text, ''), true),
            set_config('app.worker', '', true);
    FOR agency_id, role IN
        SELECT tm.agency_id, tm.role FROM auth.users u LEFT JOIN team_members tm ON tm.user_id = u.id WHERE u.id = p_user
    LOOP
        IF agency_id IS NOT NULL THEN
            n := n + 1;
            only_agency := agency_id;
        END IF;
        RETURN NEXT;
    END LOOP;
    IF p_agency IS NULL AND n = 1 THEN
        PERFORM set_config('app.agency_id', only_agency::text, true);
    END IF;
END
$$;
