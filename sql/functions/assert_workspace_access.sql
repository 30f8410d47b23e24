-- campaigndb.assert_workspace_access: raise 42501 when the session is bound to a workspace
-- (campaigndb.workspace_id) other than p_workspace_id.  p_object names the object for the
-- message ("campaign 3f..."), without revealing which workspace owns it.
CREATE OR REPLACE FUNCTION campaigndb.assert_workspace_access(p_workspace_id uuid, p_object text)
RETURNS void
LANGUAGE plpgsql
STABLE
AS $function$
DECLARE
    v_bound uuid := campaigndb.bound_workspace_id();
BEGIN
    IF v_bound IS NOT NULL AND v_bound OPERATOR(pg_catalog.<>) p_workspace_id THEN
        RAISE EXCEPTION '% belongs to another workspace than the one this session is bound to',
                        p_object
              USING ERRCODE = '42501',
                    HINT = 'campaigndb.workspace_id limits this session to one workspace';
    END IF;
END
$function$;

REVOKE ALL ON FUNCTION campaigndb.assert_workspace_access(uuid, text) FROM PUBLIC;
