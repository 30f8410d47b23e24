-- campaigndb.assert_workspace_access: raise 42501 unless this session may touch
-- p_workspace_id (campaigndb.caller_workspaces: a tenant's workspaces, a service session's
-- narrowing, or every workspace).  p_object names the object for the message
-- ("campaign 3f..."), without revealing which workspace owns it.
CREATE OR REPLACE FUNCTION campaigndb.assert_workspace_access(p_workspace_id uuid, p_object text)
RETURNS void
LANGUAGE plpgsql
STABLE
AS $function$
DECLARE
    v_scope uuid[] := campaigndb.caller_workspaces(true);
BEGIN
    IF v_scope IS NOT NULL
       AND (p_workspace_id OPERATOR(pg_catalog.=) ANY (v_scope)) IS NOT TRUE THEN
        RAISE EXCEPTION '% belongs to another workspace than the ones this session is bound to',
                        p_object
              USING ERRCODE = '42501',
                    HINT = 'a tenant login, its workspace token or campaigndb.workspace_id '
                           'limits this session to its workspaces';
    END IF;
END
$function$;

REVOKE ALL ON FUNCTION campaigndb.assert_workspace_access(uuid, text) FROM PUBLIC;
