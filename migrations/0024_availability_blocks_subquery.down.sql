-- Reverts 0024. Lossless: 0019's search again, and the body 0021 gave app_available_page_json.

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

CREATE OR REPLACE FUNCTION app_available_page_json(
    p_agency uuid, p_check_in date, p_check_out date, p_guests integer, p_after_micros bigint, p_after_id uuid, p_limit integer)
    RETURNS TABLE (items text, next_micros bigint, next_id uuid)
    LANGUAGE plpgsql STABLE
    SET plan_cache_mode = force_generic_plan
    AS $$
BEGIN
    RETURN QUERY
    WITH page AS (
        SELECT c.api_json, c.created_at, c.id, row_number() OVER (ORDER BY c.created_at DESC, c.id DESC) AS n FROM (
            SELECT p.api_json, p.created_at, p.id, p.agency_id FROM properties p
             WHERE p.agency_id = p_agency AND p.status = 'active' AND p.max_guests >= p_guests
               AND p.min_nights <= p_check_out - p_check_in AND p.max_nights >= p_check_out - p_check_in
               AND (p.created_at, p.id) < ((SELECT COALESCE(timestamptz 'epoch' + p_after_micros * interval '1 microsecond', 'infinity')),
                                           (SELECT COALESCE(p_after_id, 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid)))
             ORDER BY p.created_at DESC, p.id DESC
            OFFSET 0) c
         WHERE COALESCE((SELECT b.check_out FROM bookings b
                          WHERE b.agency_id = c.agency_id AND b.property_id = c.id AND b.check_in < p_check_out
                            AND b.status = 'confirmed'
                          ORDER BY b.check_in DESC
                          LIMIT 1), '-infinity') <= p_check_in
           AND NOT EXISTS (
               SELECT 1 FROM blocks k
                WHERE k.agency_id = c.agency_id AND k.property_id = c.id AND k.end_date > p_check_in AND k.start_date < p_check_out)
         ORDER BY c.created_at DESC, c.id DESC
         LIMIT p_limit + 1)
    SELECT COALESCE(string_agg(page.api_json, ',' ORDER BY page.n) FILTER (WHERE page.n <= p_limit), ''),
           CASE WHEN max(page.n) > p_limit
                THEN max((extract(epoch FROM page.created_at) * 1000000)::bigint) FILTER (WHERE page.n = p_limit) END,
           CASE WHEN max(page.n) > p_limit THEN (array_agg(page.id) FILTER (WHERE page.n = p_limit))[1] END
      FROM page;
END
$$;
