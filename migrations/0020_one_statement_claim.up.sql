-- 0020 one-statement idempotency claim (issue 17): a creating POST with an Idempotency-Key admits its caller and
-- claims the key in one statement, its own transaction (committed before the action runs, as the claim must be),
-- instead of BEGIN, app_enter_request, the claim, the look-up of a key already held and COMMIT. A booking create
-- then records its answer in the statement that writes the booking (app_keep_answer), so the happy path of an
-- idempotent create is two statements instead of about nine.

-- The claim of an Idempotency-Key, in one place for both paths (IdempotencyRepository.claim in the transaction
-- of the full path, after app_enter_request; app_admit_and_claim_key after app_admit). It takes the key when it
-- is new, expired, or abandoned (unanswered after p_abandoned_seconds: its request died with its process) and
-- returns claimed = true; otherwise claimed = false and what the key holds: the fingerprint of its request and,
-- once answered, the answer (NULLs while its request still runs; no row found is all NULLs). The conflicting row
-- is locked by ON CONFLICT even when not updated, so the look-up sees it as committed. Invoker's rights: the
-- caller's row-level security applies.
CREATE FUNCTION app_claim_key(
    p_agency uuid, p_user uuid, p_key text, p_method text, p_path text, p_hash text,
    p_lifetime_seconds integer, p_abandoned_seconds integer)
    RETURNS TABLE (claimed boolean, held_hash text, held_status integer, held_body bytea)
    LANGUAGE plpgsql VOLATILE
    AS $$
BEGIN
    INSERT INTO idempotency_keys AS k (agency_id, key, user_id, request_method, request_path, request_hash, expires_at)
    VALUES (p_agency, p_key, p_user, p_method, p_path, p_hash, now() + make_interval(secs => p_lifetime_seconds))
    ON CONFLICT (agency_id, user_id, key) DO UPDATE
        SET request_method = EXCLUDED.request_method, request_path = EXCLUDED.request_path,
            request_hash = EXCLUDED.request_hash, response_status = NULL, response_body = NULL,
            created_at = now(), expires_at = EXCLUDED.expires_at
        WHERE k.expires_at < now()
           OR (k.response_status IS NULL AND k.created_at < now() - make_interval(secs => p_abandoned_seconds))
    RETURNING true INTO claimed;
    IF claimed IS NULL THEN
        claimed := false;
        SELECT k.request_hash, k.response_status, k.response_body INTO held_hash, held_status, held_body
          FROM idempotency_keys k
         WHERE k.agency_id = p_agency AND k.user_id = p_user AND k.key = p_key;
    END IF;
    RETURN NEXT;
END
$$;

-- The claim in one statement: app_admit (migration 0016) with the endpoint's roles, the admitted member's agency
-- and role (the API's Caller), then app_claim_key. A caller app_admit refuses raises IK403 and claims nothing:
-- the full path then admits, refuses or claims, as before. Committed when the statement ends, so, as
-- app_create_booking does (0018), it raises 57014 (nothing claimed) when it ran longer than p_budget_ms, the time
-- the API still waits: a claim committed after the API answered 503 would hold the key "in progress" for the
-- retries of the next minute instead of letting them run.
CREATE FUNCTION app_admit_and_claim_key(
    p_user uuid, p_agency uuid, p_roles text[], p_key text, p_method text, p_path text, p_hash text,
    p_lifetime_seconds integer, p_abandoned_seconds integer, p_budget_ms integer)
    RETURNS TABLE (member_agency uuid, member_role text, claimed boolean, held_hash text, held_status integer, held_body bytea)
    LANGUAGE plpgsql VOLATILE
    AS $$
DECLARE
    admitted record;
BEGIN
    SELECT * INTO admitted FROM app_admit(p_user, p_agency, p_roles);
    member_agency := admitted.admitted_agency;
    SELECT tm.role INTO member_role FROM team_members tm WHERE tm.agency_id = member_agency AND tm.user_id = p_user;
    -- Removed or given another role since app_admit's look-up (each statement here reads its own snapshot).
    IF member_role IS NULL OR NOT (member_role = ANY (p_roles)) THEN
        RAISE EXCEPTION 'not admitted in one statement; the full request path answers' USING ERRCODE = 'IK403';
    END IF;
    SELECT c.claimed, c.held_hash, c.held_status, c.held_body INTO claimed, held_hash, held_status, held_body
      FROM app_claim_key(member_agency, p_user, p_key, p_method, p_path, p_hash, p_lifetime_seconds, p_abandoned_seconds) c;
    IF clock_timestamp() > statement_timestamp() + p_budget_ms * interval '1 millisecond' THEN
        RAISE EXCEPTION 'past the request''s deadline: nothing is claimed' USING ERRCODE = '57014';
    END IF;
    RETURN NEXT;
END
$$;

-- Records a one-statement create's answer on its claimed key in the create's own statement (so its transaction):
-- SELECT app_keep_answer(user, key, 201, app_create_booking(...)) evaluates the create first (a function's
-- arguments come before its call), whose app_admit set app.agency_id, the claim's agency. Returns p_body
-- unchanged; a NULL p_key (a create without a key) records nothing. A key that is not there raises IK422, so the
-- statement writes nothing and the full path answers, as for any key whose row the claim could not find.
CREATE FUNCTION app_keep_answer(p_user uuid, p_key text, p_status integer, p_body text)
    RETURNS text
    LANGUAGE plpgsql VOLATILE
    AS $$
BEGIN
    IF p_key IS NOT NULL THEN
        UPDATE idempotency_keys SET response_status = p_status, response_body = convert_to(p_body, 'UTF8')
         WHERE agency_id = NULLIF(current_setting('app.agency_id', true), '')::uuid AND user_id = p_user AND key = p_key;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'the claimed key is gone; the full request path answers' USING ERRCODE = 'IK422';
        END IF;
    END IF;
    RETURN p_body;
END
$$;
