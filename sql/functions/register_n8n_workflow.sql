-- register_n8n_workflow: register (or update) a workspace's n8n workflow.
-- Keyed by (workspace_id, n8n_workflow_id): registering again with the same values answers
-- the same workflow_id with replayed: true; with other values it updates name, type and
-- status (a redeploy) and answers updated: true.  Each change writes an audit row.
-- Isolation: READ COMMITTED; one INSERT ... ON CONFLICT DO UPDATE.
-- SQLSTATEs in the envelope: 23502, 22023, 23503 (workspace missing), 23514 (unknown
-- campaign type or deployment status), 42501.
-- SECURITY DEFINER: callers hold EXECUTE only, no table privileges.
CREATE OR REPLACE FUNCTION public.register_n8n_workflow(
    p_workspace_id       uuid,
    p_n8n_workflow_id    text,
    p_name               text,
    p_campaign_type      text,
    p_deployment_status  text DEFAULT 'active')
RETURNS jsonb
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_id        uuid;
    v_inserted  boolean;
    v_changed   boolean := true;
    -- once, not in the DO UPDATE SET: Citus plans that clause only with immutable functions
    v_now       timestamptz := now();
    v_state text; v_msg text; v_detail text; v_hint text;
    v_constraint text; v_column text; v_table text;
BEGIN
    IF p_workspace_id IS NULL THEN
        RAISE EXCEPTION 'p_workspace_id is required' USING ERRCODE = '23502', COLUMN = 'workspace_id';
    ELSIF p_n8n_workflow_id IS NULL OR p_n8n_workflow_id ~ '^\s*$' THEN
        RAISE EXCEPTION 'p_n8n_workflow_id is required'
              USING ERRCODE = '23502', COLUMN = 'n8n_workflow_id';
    ELSIF p_name IS NULL OR p_name ~ '^\s*$' THEN
        RAISE EXCEPTION 'p_name is required' USING ERRCODE = '23502', COLUMN = 'name';
    ELSIF p_campaign_type IS NULL THEN
        RAISE EXCEPTION 'p_campaign_type is required' USING ERRCODE = '23502', COLUMN = 'campaign_type';
    ELSIF length(p_n8n_workflow_id) > 200 OR length(p_name) > 200 THEN
        RAISE EXCEPTION 'p_n8n_workflow_id and p_name are limited to 200 characters'
              USING ERRCODE = '22023';
    END IF;
    PERFORM campaigndb.assert_workspace_access(p_workspace_id, 'workspace ' || p_workspace_id);
    IF NOT EXISTS (SELECT 1 FROM campaigndb.workspaces AS w WHERE w.id = p_workspace_id) THEN
        RAISE EXCEPTION 'workspace % does not exist', p_workspace_id
              USING ERRCODE = '23503', CONSTRAINT = 'workspace_n8n_workflows_workspace_id_fkey',
                    TABLE = 'workspace_n8n_workflows', COLUMN = 'workspace_id';
    END IF;

    INSERT INTO campaigndb.workspace_n8n_workflows AS w
           (workspace_id, n8n_workflow_id, name, campaign_type, deployment_status)
    VALUES (p_workspace_id, p_n8n_workflow_id, p_name, p_campaign_type,
            COALESCE(p_deployment_status, 'active'))
    ON CONFLICT (workspace_id, n8n_workflow_id) DO UPDATE
       SET name = EXCLUDED.name,
           campaign_type = EXCLUDED.campaign_type,
           deployment_status = EXCLUDED.deployment_status,
           updated_at = v_now
     WHERE (w.name, w.campaign_type, w.deployment_status)
           IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.campaign_type, EXCLUDED.deployment_status)
    RETURNING w.id, (w.xmax = 0) INTO v_id, v_inserted;

    IF v_id IS NULL THEN  -- registered before with the same values
        v_changed := false;
        SELECT w.id INTO v_id FROM campaigndb.workspace_n8n_workflows AS w
         WHERE w.workspace_id = p_workspace_id AND w.n8n_workflow_id = p_n8n_workflow_id;
    ELSE
        INSERT INTO campaigndb.workflow_deployment_history
               (workspace_id, workflow_id, event_type, details)
        VALUES (p_workspace_id, v_id,
                CASE WHEN v_inserted THEN 'workflow_registered' ELSE 'workflow_updated' END,
                jsonb_build_object('n8n_workflow_id', p_n8n_workflow_id, 'name', p_name,
                                   'campaign_type', p_campaign_type,
                                   'deployment_status', COALESCE(p_deployment_status, 'active')));
    END IF;

    RETURN campaigndb.envelope_ok(jsonb_build_object(
        'workflow_id', v_id, 'replayed', NOT v_changed,
        'updated', v_changed AND NOT COALESCE(v_inserted, false)));
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

REVOKE ALL ON FUNCTION public.register_n8n_workflow(uuid, text, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.register_n8n_workflow(uuid, text, text, text, text)
    TO campaigndb_app;
