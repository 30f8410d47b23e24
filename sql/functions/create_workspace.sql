-- create_workspace(p_name, p_workspace_id): create a workspace.
-- Isolation: READ COMMITTED; one INSERT, no locks beyond it.
-- Idempotency: p_workspace_id (optional, client-chosen) is the key: a repeat with the same
-- id and name returns the first result with replayed: true; same id, other name: 23505.
-- SQLSTATEs in the envelope: 23502 (name missing or blank), 22023 (name too long, or a
-- campaigndb.workspace_id binding that is not a uuid), 23505 (id reused), 42501 (a repeat
-- for an existing workspace other than the bound one).  Creating a new workspace while bound
-- is allowed: it is nobody else's object.
-- SECURITY DEFINER: callers hold EXECUTE only, no table privileges.
CREATE OR REPLACE FUNCTION public.create_workspace(
    p_name          text,
    p_workspace_id  uuid DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_id          uuid;
    v_prior_name  text;
    v_state text; v_msg text; v_detail text; v_hint text;
    v_constraint text; v_column text; v_table text;
BEGIN
    PERFORM campaigndb.caller_workspaces(true);  -- a garbage binding is refused (22023)
    IF campaigndb.session_kind() IS DISTINCT FROM 'service' THEN
        RAISE EXCEPTION 'workspaces are created by service sessions only' USING ERRCODE = '42501';
    END IF;
    IF p_name IS NULL OR p_name ~ '^\s*$' THEN
        RAISE EXCEPTION 'p_name is required' USING ERRCODE = '23502', COLUMN = 'name';
    END IF;
    IF length(p_name) > 200 THEN
        RAISE EXCEPTION 'p_name is longer than 200 characters'
              USING ERRCODE = '22023', COLUMN = 'name';
    END IF;

    INSERT INTO campaigndb.workspaces (id, name)
    VALUES (COALESCE(p_workspace_id, gen_random_uuid()), p_name)
    ON CONFLICT (id) DO NOTHING
    RETURNING id INTO v_id;

    IF v_id IS NULL THEN
        PERFORM campaigndb.assert_workspace_access(p_workspace_id, 'workspace ' || p_workspace_id);
        SELECT w.name INTO v_prior_name FROM campaigndb.workspaces AS w WHERE w.id = p_workspace_id;
        IF v_prior_name IS DISTINCT FROM p_name THEN
            RAISE EXCEPTION 'workspace % already exists with another name', p_workspace_id
                  USING ERRCODE = '23505', CONSTRAINT = 'workspaces_pkey',
                        HINT = 'use a new p_workspace_id for a new workspace';
        END IF;
        RETURN campaigndb.envelope_ok(jsonb_build_object(
            'workspace_id', p_workspace_id, 'replayed', true));
    END IF;

    RETURN campaigndb.envelope_ok(jsonb_build_object('workspace_id', v_id, 'replayed', false));
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

REVOKE ALL ON FUNCTION public.create_workspace(text, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.create_workspace(text, uuid) TO campaigndb_app;
