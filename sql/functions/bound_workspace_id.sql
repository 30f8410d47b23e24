-- campaigndb.bound_workspace_id: the workspace this session is bound to
-- (setting campaigndb.workspace_id), or NULL when unbound.  A setting that is not a uuid is
-- refused with 22023 rather than silently ignored: ignoring it would unbind the session.
CREATE OR REPLACE FUNCTION campaigndb.bound_workspace_id()
RETURNS uuid
LANGUAGE plpgsql
STABLE
AS $function$
DECLARE
    v_setting text := NULLIF(pg_catalog.current_setting('campaigndb.workspace_id', true), '');
BEGIN
    IF v_setting IS NULL THEN
        RETURN NULL;
    END IF;
    IF v_setting OPERATOR(pg_catalog.!~)
       '^[0-9A-Fa-f]{8}-?([0-9A-Fa-f]{4}-?){3}[0-9A-Fa-f]{12}$' THEN
        RAISE EXCEPTION 'campaigndb.workspace_id is set to %, which is not a uuid',
                        pg_catalog.quote_literal(v_setting)
              USING ERRCODE = '22023',
                    HINT = 'SET campaigndb.workspace_id to a workspace uuid, or RESET it';
    END IF;
    RETURN v_setting::uuid;
END
$function$;

REVOKE ALL ON FUNCTION campaigndb.bound_workspace_id() FROM PUBLIC;
