-- 0024 the availability search's blocks probe as a subquery of its own (issue 17), and 0019's search dropped.
--
-- 0021 wrote the blocks probe as NOT EXISTS, which the planner turns into an anti-join. There the agency is
-- compared twice, with the candidate's agency and with row-level security's app_agency_id(). With about 1,000
-- agencies EXPLAIN estimated one row both through blocks_connection_uid_key, which does not hold property_id, and
-- through blocks_agency_property_end_idx, and the anti-join went through the first: each candidate read all of its
-- agency's blocks. pgbench of the search's statement (32 clients) on bench/run's 100x data (1,000 agencies, 200,000
-- blocks) ran 297 a second where 1x ran 1,830. A scalar subquery is planned on its own, with the candidate's agency
-- and id as parameters: EXPLAIN shows row-level security's comparison as a one-time filter and the probe as one
-- descent of blocks_agency_property_end_idx, as the bookings probe beside it. It answers the same: a property is
-- free of blocks when no block that ends after p_check_in starts before p_check_out (end_date is NOT NULL).
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
           AND (SELECT k.end_date FROM blocks k
                 WHERE k.agency_id = c.agency_id AND k.property_id = c.id AND k.end_date > p_check_in AND k.start_date < p_check_out
                 LIMIT 1) IS NULL
         ORDER BY c.created_at DESC, c.id DESC
         LIMIT p_limit + 1)
    SELECT COALESCE(string_agg(page.api_json, ',' ORDER BY page.n) FILTER (WHERE page.n <= p_limit), ''),
           CASE WHEN max(page.n) > p_limit
                THEN max((extract(epoch FROM page.created_at) * 1000000)::bigint) FILTER (WHERE page.n = p_limit) END,
           CASE WHEN max(page.n) > p_limit THEN (array_agg(page.id) FILTER (WHERE page.n = p_limit))[1] END
      FROM page;
END
$$;

-- 0019's search, unused since 0021 (the release before this one calls app_availability_json).
DROP FUNCTION app_availability(uuid, uuid, text[], date, date, integer, bigint, uuid, integer);
DROP FUNCTION app_available_properties(uuid, date, date, integer, bigint, uuid, integer);
