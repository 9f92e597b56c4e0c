-- Restores app_list_properties and app_list_bookings as migration 0016 created them.
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

DROP FUNCTION app_list_bookings_json(uuid, uuid, text[], uuid, text, date, date, bigint, uuid, integer);
DROP FUNCTION app_bookings_page_json(uuid, uuid, uuid, text, date, date, bigint, uuid, integer);
ALTER TABLE bookings DROP COLUMN api_json;
DROP FUNCTION app_booking_json(uuid, uuid, uuid, text, text, date, date, integer, text, text, bigint, text, text, uuid, timestamptz, timestamptz);
DROP FUNCTION app_list_properties_json(uuid, uuid, text[], text, bigint, uuid, integer);
DROP FUNCTION app_properties_page_json(uuid, uuid, text, bigint, uuid, integer);
ALTER TABLE properties DROP COLUMN api_json;
DROP FUNCTION app_property_json(uuid, uuid, uuid, text, text, text, integer, integer, integer, text, timestamptz, timestamptz);
DROP FUNCTION app_rfc3339(timestamptz);
