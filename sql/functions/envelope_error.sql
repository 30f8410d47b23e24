-- campaigndb.envelope_error: the failure envelope (docs/contract.md, section 1), built from the
-- diagnostics a function's handler read with GET STACKED DIAGNOSTICS.  This is the one
-- place that decides retry_recommended / retry_after_ms, from campaigndb.error_codes (the
-- SQLSTATE table the Python client is tested against).  Unknown SQLSTATEs are not retried.
CREATE OR REPLACE FUNCTION campaigndb.envelope_error(
    p_sqlstate    text,
    p_message     text,
    p_detail      text DEFAULT NULL,
    p_hint        text DEFAULT NULL,
    p_constraint  text DEFAULT NULL,
    p_column      text DEFAULT NULL,
    p_table       text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql
STABLE
AS $function$
DECLARE
    v_retry        boolean;
    v_retry_after  integer;
    v_envelope     jsonb;
    v_detail       jsonb;
BEGIN
    SELECT e.retry_recommended, e.retry_after_ms
      INTO v_retry, v_retry_after
      FROM campaigndb.error_codes AS e
     -- compared as bpchar, the key's own type: a char(5)-to-text comparison cannot use the
     -- primary key, and under a caller's enable_seqscan = off its cost estimate of 1e10
     -- made every failure pay for JIT compilation (docs/limits.md)
     WHERE e.sqlstate OPERATOR(pg_catalog.=) p_sqlstate::pg_catalog.bpchar;

    v_envelope := pg_catalog.jsonb_build_object(
        'success', false,
        'error', COALESCE(p_message, 'unknown error'),
        'error_code', p_sqlstate,
        'retry_recommended', COALESCE(v_retry, false));
    IF v_retry THEN
        v_envelope := v_envelope
            OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('retry_after_ms', v_retry_after);
    END IF;

    v_detail := pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
        'constraint', NULLIF(p_constraint, ''),
        'column', NULLIF(p_column, ''),
        'table', NULLIF(p_table, ''),
        -- a failing row's detail can carry a whole batch element: keep the start of it
        'detail', NULLIF(pg_catalog.left(p_detail, 500), ''),
        'hint', NULLIF(p_hint, '')));
    IF v_detail OPERATOR(pg_catalog.<>) '{}'::jsonb THEN
        v_envelope := v_envelope
            OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('error_detail', v_detail);
    END IF;
    RETURN v_envelope;
END
$function$;

REVOKE ALL ON FUNCTION campaigndb.envelope_error(text, text, text, text, text, text, text)
    FROM PUBLIC;
