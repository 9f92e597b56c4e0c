-- 0021 the availability search as one page of JSON, probing btrees (issue 17).
--
-- Under row-level security a query's own conditions may only become index conditions when they are leakproof:
-- otherwise they could see rows the policy hides before it is applied. Range overlap (&&) is not leakproof, so
-- 0019's probes of the GiST indexes on (agency_id, property_id, nights) used the index for the property only and
-- then filtered every one of its stays: about 27 µs a property with 100 stays, and growing with them. Comparing a
-- date or uuid column with a parameter is leakproof, so each probe below is one btree descent (about 3 µs). A bound
-- computed in the query (COALESCE, arithmetic) is not: it is wrapped in a scalar subquery, which the planner turns
-- into a parameter.
--
-- The page is one row, the items already JSON, as the lists' are (0017): each row a statement returns cost the API
-- about 10 µs of decoding, and a page has up to 51.
--
-- 0019's app_availability and app_available_properties stay as they are for the release before, which calls
-- them; a later release drops them.

-- A property's blocks that end after a date, in date order: the blocks probe reads the property's current and
-- future blocks only, however many past ones pile up. Building it holds writes to blocks until it is done.
CREATE INDEX blocks_agency_property_end_idx ON blocks (agency_id, property_id, end_date);

-- One page of GET /api/v1/availability (SPEC §11): the agency's active properties free for every night of
-- [p_check_in, p_check_out) that fit p_guests and whose stay rules allow its length, newest first, after the cursor;
-- the items joined with commas, and the position of the page's last item when there is a next page (as
-- app_properties_page_json, 0017). Both paths run it. A property is free when
--   * its last confirmed booking that starts before p_check_out ends by p_check_in: confirmed bookings never
--     overlap (occupancy_no_overlap, 0009), so no earlier one reaches further (bookings_agency_property_idx,
--     backwards to the first confirmed row);
--   * none of its blocks, of any kind, overlaps the stay: of the ones that end after p_check_in
--     (blocks_agency_property_end_idx), none starts before p_check_out. Channel blocks may overlap each other,
--     so blocks cannot be probed like bookings.
-- The candidates come in page order (the subquery's ORDER BY, which OFFSET 0 keeps from being merged into the
-- outer query), so the probes stop at the page's last row. The cursor compares with the first page's bound
-- ('infinity', the greatest uuid) rather than through a catch-all OR, so one generic plan serves every page and
-- starts at the cursor in properties_agency_created_idx: planning each call cost a third of the statement.
CREATE FUNCTION app_available_page_json(
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

-- GET /api/v1/availability in one statement: app_admit with the endpoint's roles, then the page in the admitted
-- agency.
CREATE FUNCTION app_availability_json(
    p_user uuid, p_agency uuid, p_roles text[], p_check_in date, p_check_out date, p_guests integer,
    p_after_micros bigint, p_after_id uuid, p_limit integer)
    RETURNS TABLE (items text, next_micros bigint, next_id uuid)
    LANGUAGE plpgsql VOLATILE
    AS $$
DECLARE
    admitted record;
BEGIN
    SELECT * INTO admitted FROM app_admit(p_user, p_agency, p_roles);
    RETURN QUERY SELECT * FROM app_available_page_json(
        admitted.admitted_agency, p_check_in, p_check_out, p_guests, p_after_micros, p_after_id, p_limit);
END
$$;
