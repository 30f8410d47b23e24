-- campaigndb.caller_workspaces: the workspaces this session may touch (docs/tenancy.md).
-- Decided from the authenticated login and its memberships (campaigndb.session_kind):
--   * service (a superuser, the owner of schema campaigndb, or a member of campaigndb_app
--     or campaigndb_readonly that is no tenant): NULL = every workspace, or the one that
--     campaigndb.workspace_id narrows it to;
--   * tenant (a member of campaigndb_tenant or campaigndb_tenant_readonly, even when also
--     a member of a service role): the workspaces campaigndb.tenant_logins maps the login
--     to, plus those of a valid token in campaigndb.token (a bad token is refused, 42501);
--     campaigndb.workspace_id may narrow that set, never widen it;
--   * anybody else: no workspace.
-- p_strict (the API functions): an empty set is refused with 42501.  Row level security
-- passes false: an unbound tenant sees no rows.
-- Isolation: the caller's; read only, no locks.  Raises 42501 (bad token, strict and empty).
-- SECURITY DEFINER: it reads campaigndb.tenant_logins and the token secrets, which no caller
-- role may read.
CREATE OR REPLACE FUNCTION campaigndb.caller_workspaces(p_strict boolean DEFAULT true)
RETURNS uuid[]
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_kind    text;
    v_scope   uuid[];
    v_token   text := NULLIF(current_setting('campaigndb.token', true), '');
    v_narrow  text := NULLIF(current_setting('campaigndb.workspace_id', true), '');
BEGIN
    v_kind := campaigndb.session_kind();

    IF v_narrow IS NOT NULL
       AND v_narrow !~ '^[0-9A-Fa-f]{8}-?([0-9A-Fa-f]{4}-?){3}[0-9A-Fa-f]{12}$' THEN
        RAISE EXCEPTION 'campaigndb.workspace_id is set to %, which is not a uuid',
                        quote_literal(v_narrow)
              USING ERRCODE = '22023',
                    HINT = 'SET campaigndb.workspace_id to a workspace uuid, or RESET it';
    END IF;

    IF v_kind = 'service' THEN
        RETURN CASE WHEN v_narrow IS NULL THEN NULL ELSE ARRAY[v_narrow::uuid] END;
    ELSIF v_kind = 'tenant' THEN
        SELECT array_agg(t.workspace_id) INTO v_scope
          FROM campaigndb.tenant_logins AS t
         WHERE t.role_name = session_user;
        IF v_token IS NOT NULL THEN
            v_scope := COALESCE(v_scope, '{}') || campaigndb.token_workspaces(v_token);
        END IF;
        IF v_narrow IS NOT NULL THEN
            v_scope := CASE WHEN v_narrow::uuid = ANY (v_scope) THEN ARRAY[v_narrow::uuid] END;
        END IF;
        IF cardinality(v_scope) > 0 OR NOT p_strict THEN
            RETURN COALESCE(v_scope, '{}');
        END IF;
        RAISE EXCEPTION 'this session is bound to no workspace'
              USING ERRCODE = '42501',
                    HINT = 'send a workspace token (SET LOCAL campaigndb.token), or have an '
                           'admin map this login with map_tenant_login';
    END IF;
    IF p_strict THEN
        RAISE EXCEPTION 'login % is neither a campaigndb service role nor a tenant',
                        quote_ident(session_user)
              USING ERRCODE = '42501';
    END IF;
    RETURN '{}';
END
$function$;

REVOKE ALL ON FUNCTION campaigndb.caller_workspaces(boolean) FROM PUBLIC;
-- Row level security calls it as the querying role: tenant roles may, so that a tenant
-- granted SELECT for reporting can read; grant it to any other role given table privileges.
GRANT EXECUTE ON FUNCTION campaigndb.caller_workspaces(boolean)
    TO campaigndb_tenant, campaigndb_tenant_readonly;
