-- validate_campaign_execution_constraints: would execute_campaign_atomically accept this
-- launch?  Answers valid and the list of violations (code, message), without writing:
--   workspace_not_found, workflow_not_found (absent or in another workspace),
--   workflow_not_active, unknown_campaign_type, campaign_type_mismatch (the workflow was
--   registered for another campaign type: allowed by execute, but usually a mistake).
-- Isolation: READ COMMITTED, read only.
-- SQLSTATEs in the envelope: 23502, 42501.
-- SECURITY DEFINER: callers hold EXECUTE only, no table privileges.
CREATE OR REPLACE FUNCTION public.validate_campaign_execution_constraints(
    p_workspace_id               uuid,
    p_workspace_n8n_workflow_id  uuid,
    p_campaign_type              text)
RETURNS jsonb
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_violations  jsonb := '[]';
    v_workflow    record;
    v_state text; v_msg text; v_detail text; v_hint text;
    v_constraint text; v_column text; v_table text;
BEGIN
    IF p_workspace_id IS NULL OR p_workspace_n8n_workflow_id IS NULL OR p_campaign_type IS NULL THEN
        RAISE EXCEPTION 'p_workspace_id, p_workspace_n8n_workflow_id and p_campaign_type are required'
              USING ERRCODE = '23502';
    END IF;
    PERFORM campaigndb.assert_workspace_access(p_workspace_id, 'workspace ' || p_workspace_id);

    IF NOT EXISTS (SELECT 1 FROM campaigndb.workspaces AS w WHERE w.id = p_workspace_id) THEN
        v_violations := v_violations || jsonb_build_object('code', 'workspace_not_found',
            'message', format('workspace %s does not exist', p_workspace_id));
    END IF;
    IF p_campaign_type NOT IN ('email', 'linkedin', 'sms', 'gmaps', 'facebook', 'multichannel') THEN
        v_violations := v_violations || jsonb_build_object('code', 'unknown_campaign_type',
            'message', format('unknown campaign type %s', quote_literal(left(p_campaign_type, 40))));
    END IF;
    SELECT w.deployment_status, w.campaign_type INTO v_workflow
      FROM campaigndb.workspace_n8n_workflows AS w
     WHERE w.id = p_workspace_n8n_workflow_id AND w.workspace_id = p_workspace_id;
    IF NOT FOUND THEN
        v_violations := v_violations || jsonb_build_object('code', 'workflow_not_found',
            'message', format('workflow %s not found in workspace %s',
                              p_workspace_n8n_workflow_id, p_workspace_id));
    ELSE
        IF v_workflow.deployment_status <> 'active' THEN
            v_violations := v_violations || jsonb_build_object('code', 'workflow_not_active',
                'message', format('workflow %s is %s, not active', p_workspace_n8n_workflow_id,
                                  v_workflow.deployment_status));
        END IF;
        IF v_workflow.campaign_type <> p_campaign_type THEN
            v_violations := v_violations || jsonb_build_object('code', 'campaign_type_mismatch',
                'message', format('workflow %s runs %s campaigns, not %s',
                                  p_workspace_n8n_workflow_id, v_workflow.campaign_type,
                                  quote_literal(left(p_campaign_type, 40))));
        END IF;
    END IF;

    RETURN campaigndb.envelope_ok(jsonb_build_object(
        'valid', jsonb_array_length(v_violations) = 0, 'violations', v_violations));
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

REVOKE ALL ON FUNCTION public.validate_campaign_execution_constraints(uuid, uuid, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.validate_campaign_execution_constraints(uuid, uuid, text)
    TO campaigndb_app, campaigndb_readonly;
