-- Reverts 0022. Lossless: it restores the bodies 0018 and 0019 gave the two functions and rebuilds the two indexes.
CREATE OR REPLACE FUNCTION app_create_booking(
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

CREATE OR REPLACE FUNCTION app_holders(p_agency uuid, p_property uuid, p_from date, p_to date, p_limit integer)
    RETURNS TABLE (rank integer, id uuid, kind text, first_night text, end_night text)
    LANGUAGE plpgsql STABLE
    AS $$
BEGIN
    RETURN QUERY
    SELECT 0, b.id, NULL::text, b.check_in::text, b.check_out::text FROM bookings b
     WHERE b.agency_id = p_agency AND b.property_id = p_property AND b.status = 'confirmed'
       AND daterange(b.check_in, b.check_out, '[)') && daterange(p_from, p_to, '[)')
    UNION ALL
    SELECT 1, k.id, k.kind, k.start_date::text, k.end_date::text FROM blocks k
     WHERE k.agency_id = p_agency AND k.property_id = p_property
       AND daterange(k.start_date, k.end_date, '[)') && daterange(p_from, p_to, '[)')
    ORDER BY 1, 4
    LIMIT p_limit;
END
$$;

CREATE INDEX blocks_agency_property_nights_idx ON blocks
    USING gist (agency_id, property_id, daterange(start_date, end_date, '[)'));
CREATE INDEX bookings_agency_property_stay_idx ON bookings
    USING gist (agency_id, property_id, daterange(check_in, check_out, '[)'));
