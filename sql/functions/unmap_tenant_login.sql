-- unmap_tenant_login: stop a tenant login touching a workspace (see map_tenant_login).
-- Only campaigndb_admin (and superusers) may execute it.  Removing an absent pair changes
-- nothing.
-- Isolation: READ COMMITTED; one DELETE.  SQLSTATEs in the envelope: 23502.
-- SECURITY DEFINER: campaigndb_admin holds EXECUTE only, no privilege on tenant_logins.
CREATE OR REPLACE FUNCTION public.unmap_tenant_login(p_role name, p_workspace_id uuid)
RETURNS jsonb
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_removed integer;
BEGIN
    IF p_role IS NULL OR p_workspace_id IS NULL THEN
        RETURN campaigndb.envelope_error('23502', 'p_role and p_workspace_id are required');
    END IF;
    DELETE FROM campaigndb.tenant_logins AS t
     WHERE t.role_name = p_role AND t.workspace_id = p_workspace_id;
    GET DIAGNOSTICS v_removed = ROW_COUNT;
    RETURN campaigndb.envelope_ok(jsonb_build_object(
        'role', p_role, 'workspace_id', p_workspace_id, 'changed', v_removed > 0));
END
$function$;

REVOKE ALL ON FUNCTION public.unmap_tenant_login(name, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.unmap_tenant_login(name, uuid) TO campaigndb_admin;
