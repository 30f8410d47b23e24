-- update_email_verification: store an e-mail verifier's verdict (e.g. Bouncer) on a business.
-- p_verification_data: {status (required: valid, invalid, risky, unknown, catch_all,
-- disposable), ...anything else the verifier returned, stored as is}.  p_email, when given,
-- becomes the business's e-mail (the verdict is about that address).
-- Isolation: READ COMMITTED; one single-row UPDATE.
-- SQLSTATEs in the envelope: 23502, 22023 (not an object, e-mail without '@'), 23514 (unknown
-- status), P0002 (business not found), 42501.
-- SECURITY DEFINER: callers hold EXECUTE only, no table privileges.
CREATE OR REPLACE FUNCTION public.update_email_verification(
    p_business_id        uuid,
    p_email              varchar,
    p_verification_data  jsonb)
RETURNS jsonb
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_workspace_id  uuid;
    v_status        text;
    v_state text; v_msg text; v_detail text; v_hint text;
    v_constraint text; v_column text; v_table text;
BEGIN
    IF p_business_id IS NULL THEN
        RAISE EXCEPTION 'p_business_id is required' USING ERRCODE = '23502', COLUMN = 'business_id';
    ELSIF p_email IS NOT NULL AND (p_email !~ '^[^@\s]+@[^@\s]+$' OR length(p_email) > 320) THEN
        RAISE EXCEPTION 'p_email is not an e-mail address: %', quote_literal(left(p_email, 80))
              USING ERRCODE = '22023', COLUMN = 'email';
    ELSIF p_verification_data IS NULL THEN
        RAISE EXCEPTION 'p_verification_data is required' USING ERRCODE = '23502';
    ELSIF jsonb_typeof(p_verification_data) <> 'object' THEN
        RAISE EXCEPTION 'p_verification_data must be a JSON object, got %',
                        jsonb_typeof(p_verification_data) USING ERRCODE = '22023';
    END IF;
    v_status := campaigndb.json_text(p_verification_data, 'status',
                                     'p_verification_data.status', true, 32);
    IF v_status NOT IN ('valid', 'invalid', 'risky', 'unknown', 'catch_all', 'disposable') THEN
        RAISE EXCEPTION 'p_verification_data.status % is not a verdict; expected valid, '
                        'invalid, risky, unknown, catch_all or disposable',
                        quote_literal(v_status)
              USING ERRCODE = '23514',
                    CONSTRAINT = 'gmaps_businesses_email_verification_status_check';
    END IF;

    SELECT c.workspace_id INTO v_workspace_id
      FROM campaigndb.gmaps_businesses AS b
      JOIN campaigndb.campaigns AS c ON c.id = b.campaign_id
     WHERE b.id = p_business_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'business % not found', p_business_id
              USING ERRCODE = 'P0002', TABLE = 'gmaps_businesses';
    END IF;
    PERFORM campaigndb.assert_workspace_access(v_workspace_id, 'business ' || p_business_id);

    UPDATE campaigndb.gmaps_businesses AS b
       SET email = COALESCE(p_email, b.email),
           email_verification_status = v_status,
           email_verification_data = p_verification_data,
           email_verified_at = now(),
           updated_at = now()
     WHERE b.id = p_business_id;

    RETURN campaigndb.envelope_ok(jsonb_build_object(
        'business_id', p_business_id, 'verification_status', v_status));
EXCEPTION
    WHEN transaction_rollback THEN
        RAISE;  -- 40001/40P01 must reach the caller: the whole transaction is retried
    WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_msg = MESSAGE_TEXT,
            v_detail = PG_EXCEPTION_DETAIL, v_hint = PG_EXCEPTION_HINT,
            v_constraint = CONSTRAINT_NAME, v_column = COLUMN_NAME, v_table = TABLE_NAME;
        RETURN campaigndb.envelope_error(v_state, v_msg, v_detail, v_hint,
                                         v_constraint, v_column, v_table);
END
$function$;

REVOKE ALL ON FUNCTION public.update_email_verification(uuid, varchar, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.update_email_verification(uuid, varchar, jsonb) TO campaigndb_app;
