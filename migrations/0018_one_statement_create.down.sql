-- Reverts 0018. Lossless: it only adds functions, and drops two no release of its time calls, which come back
-- as 0016 wrote them.
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

DROP FUNCTION app_create_booking(uuid, uuid, text[], uuid, text, text, date, date, integer, text, bigint, text, text, integer);
DROP FUNCTION app_emit(uuid, text, jsonb, uuid);
