-- execute_campaign_atomically: launch an n8n campaign as one atomic act: the execution row,
-- the workflow's total_executions and last_executed_at, and an audit row, all or nothing.
--
-- Locks: the workflow row FOR UPDATE NOWAIT; a busy workflow answers 55P03 with
-- retry_recommended (the client queues callers of one workflow on an advisory lock before
-- their snapshot, so they rarely see it).  Isolation: REPEATABLE READ from the client; a
-- caller whose snapshot predates another's update of the workflow gets 40001, raised.
-- Idempotency: p_execution_id, a key within the workspace (revision 0007); the same id with the same parameters answers the first
-- result with replayed: true; with other parameters 23505.
-- SQLSTATEs in the envelope: 23502, 22023, 23514 (unknown campaign type), P0002 (workflow
-- absent, or in another workspace), 55000 (workflow not active), 55P03, 23505, 42501.
-- SECURITY DEFINER: callers hold EXECUTE only, no table privileges.
CREATE OR REPLACE FUNCTION public.execute_campaign_atomically(
    p_workspace_id                  uuid,
    p_workspace_n8n_workflow_id     uuid,
    p_campaign_approval_session_id  uuid,
    p_campaign_name                 text,
    p_campaign_type                 text,
    p_execution_config              jsonb DEFAULT '{}',
    p_execution_id                  uuid DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_config      jsonb := COALESCE(p_execution_config, '{}'::jsonb);
    v_workflow    record;
    v_prior       campaigndb.n8n_campaign_executions%ROWTYPE;
    v_id          uuid;
    v_total       integer;
    v_state text; v_msg text; v_detail text; v_hint text;
    v_constraint text; v_column text; v_table text;
BEGIN
    IF p_workspace_id IS NULL THEN
        RAISE EXCEPTION 'p_workspace_id is required' USING ERRCODE = '23502', COLUMN = 'workspace_id';
    ELSIF p_workspace_n8n_workflow_id IS NULL THEN
        RAISE EXCEPTION 'p_workspace_n8n_workflow_id is required'
              USING ERRCODE = '23502', COLUMN = 'workspace_n8n_workflow_id';
    ELSIF p_campaign_name IS NULL OR p_campaign_name ~ '^\s*$' THEN
        RAISE EXCEPTION 'p_campaign_name is required' USING ERRCODE = '23502', COLUMN = 'campaign_name';
    ELSIF length(p_campaign_name) > 500 THEN
        RAISE EXCEPTION 'p_campaign_name is longer than 500 characters'
              USING ERRCODE = '22023', COLUMN = 'campaign_name';
    ELSIF p_campaign_type IS NULL THEN
        RAISE EXCEPTION 'p_campaign_type is required' USING ERRCODE = '23502', COLUMN = 'campaign_type';
    ELSIF p_campaign_type NOT IN ('email', 'linkedin', 'sms', 'gmaps', 'facebook', 'multichannel') THEN
        RAISE EXCEPTION 'unknown campaign type %; expected email, linkedin, sms, gmaps, facebook '
                        'or multichannel', quote_literal(left(p_campaign_type, 40))
              USING ERRCODE = '23514', CONSTRAINT = 'n8n_campaign_executions_campaign_type_check',
                    COLUMN = 'campaign_type';
    ELSIF jsonb_typeof(v_config) <> 'object' THEN
        RAISE EXCEPTION 'p_execution_config must be a JSON object, got %', jsonb_typeof(v_config)
              USING ERRCODE = '22023', COLUMN = 'execution_config';
    END IF;
    PERFORM campaigndb.assert_workspace_access(p_workspace_id, 'workspace ' || p_workspace_id);

    IF p_execution_id IS NOT NULL THEN
        SELECT * INTO v_prior FROM campaigndb.n8n_campaign_executions AS e
         WHERE e.workspace_id = p_workspace_id AND e.request_id = p_execution_id;
        IF FOUND THEN
            RETURN campaigndb.execution_replay(
                v_prior, p_workspace_id, p_workspace_n8n_workflow_id,
                p_campaign_approval_session_id, p_campaign_name, p_campaign_type, v_config);
        END IF;
    END IF;

    SELECT w.workspace_id, w.deployment_status INTO v_workflow
      FROM campaigndb.workspace_n8n_workflows AS w
     WHERE w.id = p_workspace_n8n_workflow_id
       AND w.workspace_id = p_workspace_id  -- another workspace's row is never locked
       FOR UPDATE NOWAIT;
    IF NOT FOUND OR v_workflow.workspace_id <> p_workspace_id THEN
        RAISE EXCEPTION 'workflow % not found in workspace %', p_workspace_n8n_workflow_id,
                        p_workspace_id
              USING ERRCODE = 'P0002', TABLE = 'workspace_n8n_workflows';
    ELSIF v_workflow.deployment_status <> 'active' THEN
        RAISE EXCEPTION 'workflow % is %, not active', p_workspace_n8n_workflow_id,
                        v_workflow.deployment_status
              USING ERRCODE = '55000', HINT = 'register the workflow again with status active';
    END IF;

    UPDATE campaigndb.workspace_n8n_workflows AS w
       SET total_executions = w.total_executions + 1,
           last_executed_at = now(),
           updated_at = now()
     WHERE w.id = p_workspace_n8n_workflow_id
    RETURNING w.total_executions INTO v_total;

    -- The client's id is a key within the workspace (request_id); an id another workspace
    -- holds is never seen: this execution then gets its own.
    FOR v_try IN 1..2 LOOP
        INSERT INTO campaigndb.n8n_campaign_executions
               (id, request_id, workspace_id, workspace_n8n_workflow_id,
                campaign_approval_session_id, campaign_name, campaign_type, execution_status,
                execution_config, execution_number)
        VALUES (CASE WHEN v_try = 1 THEN COALESCE(p_execution_id, gen_random_uuid())
                     ELSE gen_random_uuid() END,
                p_execution_id, p_workspace_id, p_workspace_n8n_workflow_id,
                p_campaign_approval_session_id, p_campaign_name, p_campaign_type, 'pending',
                v_config, v_total)
        ON CONFLICT DO NOTHING
        RETURNING id INTO v_id;
        EXIT WHEN v_id IS NOT NULL;
        IF EXISTS (SELECT 1 FROM campaigndb.n8n_campaign_executions AS e
                    WHERE e.workspace_id = p_workspace_id AND e.request_id = p_execution_id) THEN
            -- the same key committed meanwhile (a concurrent repeat): undo, answer a replay
            RAISE EXCEPTION 'execution id already used' USING ERRCODE = 'CD001';
        END IF;
    END LOOP;
    IF v_id IS NULL THEN
        RAISE EXCEPTION 'execution id conflict, retry' USING ERRCODE = '40001';
    END IF;

    INSERT INTO campaigndb.workflow_deployment_history
           (workspace_id, workflow_id, execution_id, event_type, details)
    VALUES (p_workspace_id, p_workspace_n8n_workflow_id, v_id, 'campaign_execution_started',
            jsonb_build_object('campaign_name', p_campaign_name, 'campaign_type', p_campaign_type,
                               'campaign_approval_session_id', p_campaign_approval_session_id,
                               'execution_number', v_total));

    RETURN campaigndb.envelope_ok(jsonb_build_object(
        'execution_id', v_id, 'execution_status', 'pending', 'total_executions', v_total,
        'replayed', false));
EXCEPTION
    WHEN transaction_rollback THEN
        RAISE;  -- 40001/40P01 must reach the caller: the whole transaction is retried
    WHEN SQLSTATE 'CD001' THEN
        BEGIN  -- a handler's own errors are not caught by its block: catch them here
            SELECT * INTO v_prior FROM campaigndb.n8n_campaign_executions AS e
             WHERE e.workspace_id = p_workspace_id AND e.request_id = p_execution_id;
            RETURN campaigndb.execution_replay(
                v_prior, p_workspace_id, p_workspace_n8n_workflow_id,
                p_campaign_approval_session_id, p_campaign_name, p_campaign_type, v_config);
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_msg = MESSAGE_TEXT,
                v_hint = PG_EXCEPTION_HINT, v_constraint = CONSTRAINT_NAME;
            RETURN campaigndb.envelope_error(v_state, v_msg, NULL, v_hint, v_constraint);
        END;
    WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_msg = MESSAGE_TEXT,
            v_detail = PG_EXCEPTION_DETAIL, v_hint = PG_EXCEPTION_HINT,
            v_constraint = CONSTRAINT_NAME, v_column = COLUMN_NAME, v_table = TABLE_NAME;
        RETURN campaigndb.envelope_error(v_state, v_msg, v_detail, v_hint,
                                         v_constraint, v_column, v_table);
END
$function$;

REVOKE ALL ON FUNCTION public.execute_campaign_atomically(uuid, uuid, uuid, text, text, jsonb, uuid)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.execute_campaign_atomically(uuid, uuid, uuid, text, text, jsonb, uuid)
    TO campaigndb_app;
