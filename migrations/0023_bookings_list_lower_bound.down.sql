-- Reverts 0023: the body 0016 gave app_bookings_page.
CREATE OR REPLACE FUNCTION app_bookings_page(
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
