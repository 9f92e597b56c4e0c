-- GET /api/v1/bookings with `from`: the scan of a property's stays starts a year before `from`, not at its first
-- stay. Same answers (see the comment in the body); the signature is unchanged, so both releases of a rolling
-- deploy call it.
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
       -- The same stays: none lasts over 365 nights (bookings_check1), so one that ends after p_from began after
       -- p_from - 365. A bound on check_in that the index on (agency_id, property_id, check_in) can start from,
       -- instead of reading the property's whole history (`&&` is no index condition under row-level security):
       -- force_custom_plan folds p_from - 365 to a constant, which row-level security lets narrow the scan.
       AND (p_from IS NULL OR b.check_in > p_from - 365)
       AND (p_to IS NULL OR b.check_in < p_to)
       AND (p_after_micros IS NULL
            OR (b.created_at, b.id) < (timestamptz 'epoch' + p_after_micros * interval '1 microsecond', p_after_id))
     ORDER BY b.created_at DESC, b.id DESC
     LIMIT p_limit;
END
$$;
