-- map_tenant_login: let a tenant login (a member of campaigndb_tenant or
-- campaigndb_tenant_readonly) touch a workspace (unmap_tenant_login undoes it).  A login may
-- be mapped to several workspaces.  Only campaigndb_admin (and superusers) may execute them.
-- SQLSTATEs in the envelope: 23502, 22023 (no such login, or not a tenant), 23503 (no such
-- workspace).  Idempotent: mapping twice or unmapping an absent pair changes nothing.
-- Isolation: READ COMMITTED; one INSERT ... ON CONFLICT DO NOTHING.
-- SECURITY DEFINER: campaigndb_admin holds EXECUTE only, no privilege on tenant_logins.
CREATE OR REPLACE FUNCTION public.map_tenant_login(p_role name, p_workspace_id uuid)
RETURNS jsonb
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_added integer;
    v_state text; v_msg text; v_detail text; v_hint text;
    v_constraint text; v_column text; v_table text;
BEGIN
    IF p_role IS NULL OR p_workspace_id IS NULL THEN
        RAISE EXCEPTION 'p_role and p_workspace_id are required' USING ERRCODE = '23502';
    ELSIF NOT EXISTS (SELECT 1 FROM pg_roles AS r WHERE r.rolname = p_role
                         AND NOT r.rolsuper
                         AND (pg_has_role(r.oid, 'campaigndb_tenant', 'MEMBER')
                              OR pg_has_role(r.oid, 'campaigndb_tenant_readonly', 'MEMBER'))) THEN
        RAISE EXCEPTION 'role % does not exist or is no member of campaigndb_tenant or '
                        'campaigndb_tenant_readonly', quote_ident(p_role)
              USING ERRCODE = '22023', HINT = 'GRANT campaigndb_tenant TO the login first';
    ELSIF NOT EXISTS (SELECT 1 FROM campaigndb.workspaces AS w WHERE w.id = p_workspace_id) THEN
        RAISE EXCEPTION 'workspace % does not exist', p_workspace_id
              USING ERRCODE = '23503', CONSTRAINT = 'tenant_logins_workspace_id_fkey';
    END IF;
    INSERT INTO campaigndb.tenant_logins (role_name, workspace_id)
    VALUES (p_role, p_workspace_id)
    ON CONFLICT DO NOTHING;
    GET DIAGNOSTICS v_added = ROW_COUNT;
    RETURN campaigndb.envelope_ok(jsonb_build_object(
        'role', p_role, 'workspace_id', p_workspace_id, 'changed', v_added > 0));
EXCEPTION
    WHEN transaction_rollback THEN
        RAISE;
    WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_msg = MESSAGE_TEXT,
            v_detail = PG_EXCEPTION_DETAIL, v_hint = PG_EXCEPTION_HINT,
            v_constraint = CONSTRAINT_NAME, v_column = COLUMN_NAME, v_table = TABLE_NAME;
        RETURN campaigndb.envelope_error(v_state, v_msg, v_detail, v_hint,
                                         v_constraint, v_column, v_table);
END
$function$;

REVOKE ALL ON FUNCTION public.map_tenant_login(name, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.map_tenant_login(name, uuid) TO campaigndb_admin;
