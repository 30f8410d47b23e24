-- campaigndb.envelope_ok: the success envelope (docs/contract.md, section 1), with the calling
-- function's own fields merged in.  Pure, so PL/pgSQL callers can inline it.
CREATE OR REPLACE FUNCTION campaigndb.envelope_ok(p_fields jsonb DEFAULT '{}')
RETURNS jsonb
LANGUAGE sql
IMMUTABLE
PARALLEL SAFE
AS $function$
    SELECT pg_catalog.jsonb_build_object('success', true, 'error', NULL, 'error_code', NULL,
                                         'retry_recommended', false)
           OPERATOR(pg_catalog.||) COALESCE(p_fields, '{}'::jsonb)
$function$;

REVOKE ALL ON FUNCTION campaigndb.envelope_ok(jsonb) FROM PUBLIC;
