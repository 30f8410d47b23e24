-- campaigndb.collection_log_replay: the answer to a call whose idempotency key is already on
-- a collection_log row (the reporting functions raise the internal SQLSTATE CD001 to reach
-- it).  p_job and p_hash identify the call: the same job and request hash replay the first
-- result (replayed: true); anything else is the key reused with other parameters (23505).
-- Only the rows of the session's workspaces are looked at (keys are per workspace, so
-- another workspace's use of a key is never seen, revision 0007).  p_what names the unit for the hint
-- ('batch', 'run').  Runs inside the calling SECURITY DEFINER function, with its
-- pinned search_path.
CREATE OR REPLACE FUNCTION campaigndb.collection_log_replay(
    p_key   text,
    p_job   text,
    p_hash  text,
    p_what  text)
RETURNS jsonb
LANGUAGE plpgsql
STABLE
AS $function$
DECLARE
    v_scope  uuid[] := campaigndb.caller_workspaces(true);
    v_prior  campaigndb.collection_log%ROWTYPE;
BEGIN
    SELECT * INTO v_prior FROM campaigndb.collection_log AS l
     WHERE l.idempotency_key OPERATOR(pg_catalog.=) p_key
       AND (v_scope IS NULL OR l.workspace_id OPERATOR(pg_catalog.=) ANY (v_scope))
     ORDER BY l.id
     LIMIT 1;
    IF v_prior.job OPERATOR(pg_catalog.=) p_job
       AND v_prior.request_hash OPERATOR(pg_catalog.=) p_hash THEN
        RETURN campaigndb.envelope_ok(v_prior.result OPERATOR(pg_catalog.||)
            pg_catalog.jsonb_build_object('collection_log_id', v_prior.id, 'replayed', true));
    END IF;
    RETURN campaigndb.envelope_error(
        '23505',
        pg_catalog.format('idempotency key %s was already used with different parameters',
                          pg_catalog.quote_literal(p_key)),
        p_hint => pg_catalog.format('generate a new key for a new %s; reuse a key only to '
                                    'retry the same call', p_what),
        p_constraint => 'collection_log_idempotency_key_key');
END
$function$;

REVOKE ALL ON FUNCTION campaigndb.collection_log_replay(text, text, text, text) FROM PUBLIC;
