-- 0018 one-statement booking create (issue 17): POST /api/v1/bookings without an Idempotency-Key admits its
-- caller and writes the booking, its audit row and its webhook event in one statement, its own transaction,
-- instead of BEGIN, app_enter_request, the property lookup, the write and COMMIT (five round trips).

-- The transactional outbox's write (Outbox.emit): the event and one pending delivery per enabled endpoint of
-- the agency subscribed to p_type (or to p_only_endpoint alone, subscribed or not: the test event), nothing
-- when nobody subscribes. Returns the event id, or NULL. Written once, for Outbox.emit's statements and for
-- the functions that emit. Invoker's rights: the caller's row-level security applies.
CREATE FUNCTION app_emit(p_agency uuid, p_type text, p_payload jsonb, p_only_endpoint uuid)
    RETURNS uuid
    LANGUAGE plpgsql VOLATILE
    AS $$
DECLARE
    event uuid;
BEGIN
    WITH targets AS (
        SELECT id FROM webhook_endpoints
         WHERE agency_id = p_agency
           AND (p_only_endpoint IS NULL AND enabled AND p_type = ANY (events) OR id = p_only_endpoint)),
    e AS (
        INSERT INTO webhook_events (agency_id, type, payload)
        SELECT p_agency, p_type, p_payload WHERE EXISTS (SELECT 1 FROM targets)
        RETURNING id),
    d AS (
        INSERT INTO webhook_deliveries (agency_id, endpoint_id, event_id)
        SELECT p_agency, targets.id, e.id FROM targets, e)
    SELECT e.id INTO event FROM e;
    RETURN event;
END
$$;

-- POST /api/v1/bookings in one statement: app_admit (migration 0016) with the endpoint's roles, then the booking,
-- its audit row and its booking.created event, as the full path (BookingController.create) writes them. The
-- booking is written only when the full path would surely accept it: the property is the agency's and active,
-- the guests fit, the nights are within its stay rules and nothing holds one of them (a confirmed booking or a
-- block of any kind: channel blocks have no occupancy row, so the constraint alone would let one through).
-- Otherwise it raises SQLSTATE IK422 and writes nothing, and the API answers through the full path, which
-- explains the refusal (404, 422 or 409 with the holder). occupancy_no_overlap still decides races: a racing
-- request that wins between the check and the insert makes this one fail with 23P01, and the full path answers.
-- Returns the booking's JSON (api_json, migration 0017), which is also the event's payload.
--
-- A statement that is its own transaction commits when it ends, even after the API stopped waiting for it at
-- its deadline and answered 503. So the API passes the time it will still wait, p_budget_ms, and the function
-- raises 57014 (query_canceled: nothing is written) when it ran longer, measured on the database's own clock
-- from the statement's start; the full path's transaction rolls back at the deadline in the same way.
CREATE FUNCTION app_create_booking(
    p_user uuid, p_agency uuid, p_roles text[], p_property uuid, p_guest_name text, p_guest_email text,
    p_check_in date, p_check_out date, p_guests integer, p_source text, p_total_amount_cents bigint, p_currency text,
    p_notes text, p_budget_ms integer)
    RETURNS text
    LANGUAGE plpgsql VOLATILE
    AS $$
DECLARE
    admitted record;
    new_id uuid;
    booking text;
BEGIN
    SELECT * INTO admitted FROM app_admit(p_user, p_agency, p_roles);
    INSERT INTO bookings (agency_id, id, property_id, guest_name, guest_email, check_in, check_out, guests, status, source,
                          total_amount_cents, currency, notes, created_by)
    SELECT p.agency_id, gen_random_uuid(), p.id, p_guest_name, p_guest_email, p_check_in, p_check_out, p_guests, 'confirmed', p_source,
           p_total_amount_cents, p_currency, p_notes, p_user
      FROM properties p
     WHERE p.agency_id = admitted.admitted_agency AND p.id = p_property
       AND p.status = 'active'
       AND p_guests <= p.max_guests
       AND p_check_out - p_check_in BETWEEN p.min_nights AND p.max_nights
       AND NOT EXISTS (
            SELECT 1 FROM bookings b
             WHERE b.agency_id = p.agency_id AND b.property_id = p.id AND b.status = 'confirmed'
               AND daterange(b.check_in, b.check_out, '[)') && daterange(p_check_in, p_check_out, '[)'))
       AND NOT EXISTS (
            SELECT 1 FROM blocks k
             WHERE k.agency_id = p.agency_id AND k.property_id = p.id
               AND daterange(k.start_date, k.end_date, '[)') && daterange(p_check_in, p_check_out, '[)'))
    RETURNING id, api_json INTO new_id, booking;
    IF booking IS NULL THEN
        RAISE EXCEPTION 'not created in one statement; the full request path answers' USING ERRCODE = 'IK422';
    END IF;
    INSERT INTO audit_log (agency_id, user_id, action, resource_type, resource_id, details)
    VALUES (admitted.admitted_agency, p_user, 'booking.create', 'booking', new_id,
            jsonb_build_object('property_id', p_property, 'check_in', to_char(p_check_in, 'YYYY-MM-DD'),
                               'check_out', to_char(p_check_out, 'YYYY-MM-DD')));
    PERFORM app_emit(admitted.admitted_agency, 'booking.created', booking::jsonb, NULL);
    IF clock_timestamp() > statement_timestamp() + p_budget_ms * interval '1 millisecond' THEN
        RAISE EXCEPTION 'past the request''s deadline: nothing is written' USING ERRCODE = '57014';
    END IF;
    RETURN booking;
END
$$;

-- 0016's app_list_properties / app_list_bookings were kept by 0017 for the release before it, during a rolling
-- deploy (docs/ops/migrations.md). No release that runs beside this one calls them.
DROP FUNCTION app_list_bookings(uuid, uuid, text[], uuid, text, date, date, bigint, uuid, integer);
DROP FUNCTION app_list_properties(uuid, uuid, text[], text, bigint, uuid, integer);
