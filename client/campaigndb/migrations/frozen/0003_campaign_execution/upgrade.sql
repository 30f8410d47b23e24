-- source: sql/schema/50_execution.sql
-- Campaign execution (n8n): what execute_campaign_atomically returns on a replay, the lookup
-- of a workspace's executions by time (metrics), and row level security forced on the
-- append-only audit trail: even the owning role (the SECURITY DEFINER functions) cannot
-- write an audit row of another workspace than the bound one.
ALTER TABLE campaigndb.n8n_campaign_executions
    ADD COLUMN execution_number integer CHECK (execution_number > 0);
COMMENT ON COLUMN campaigndb.n8n_campaign_executions.execution_number IS
    'the workflow''s total_executions right after this execution was recorded';
CREATE INDEX n8n_campaign_executions_workspace_created_idx
    ON campaigndb.n8n_campaign_executions (workspace_id, created_at);
ALTER TABLE campaigndb.workflow_deployment_history FORCE ROW LEVEL SECURITY;

-- source: sql/functions/execution_replay.sql
-- campaigndb.execution_replay: the answer of execute_campaign_atomically to a repeat of an
-- execution id: the first result with replayed: true when every parameter matches; 23505
-- when the id was used with other parameters; 42501 when the first call's workspace is not
-- the bound one.  Raises; the caller's handler turns that into the envelope.
CREATE OR REPLACE FUNCTION campaigndb.execution_replay(
    p_prior                         campaigndb.n8n_campaign_executions,
    p_workspace_id                  uuid,
    p_workspace_n8n_workflow_id     uuid,
    p_campaign_approval_session_id  uuid,
    p_campaign_name                 text,
    p_campaign_type                 text,
    p_execution_config              jsonb)
RETURNS jsonb
LANGUAGE plpgsql
STABLE
AS $function$
BEGIN
    PERFORM campaigndb.assert_workspace_access(p_prior.workspace_id, 'execution ' || p_prior.id);
    IF (p_prior.workspace_id, p_prior.workspace_n8n_workflow_id,
        p_prior.campaign_approval_session_id, p_prior.campaign_name, p_prior.campaign_type,
        p_prior.execution_config)
       IS DISTINCT FROM
       (p_workspace_id, p_workspace_n8n_workflow_id, p_campaign_approval_session_id,
        p_campaign_name, p_campaign_type, p_execution_config) THEN
        RAISE EXCEPTION 'execution id % was already used with different parameters', p_prior.id
              USING ERRCODE = '23505', CONSTRAINT = 'n8n_campaign_executions_pkey',
                    HINT = 'use a new p_execution_id for a new execution; reuse one only to retry';
    END IF;
    RETURN campaigndb.envelope_ok(pg_catalog.jsonb_build_object(
        'execution_id', p_prior.id, 'execution_status', p_prior.execution_status,
        'total_executions', p_prior.execution_number, 'replayed', true));
END
$function$;

REVOKE ALL ON FUNCTION campaigndb.execution_replay(campaigndb.n8n_campaign_executions, uuid, uuid,
                                                   uuid, text, text, jsonb) FROM PUBLIC;

-- source: sql/functions/register_n8n_workflow.sql
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
           updated_at = now()
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

-- source: sql/functions/execute_campaign_atomically.sql
-- execute_campaign_atomically: launch an n8n campaign as one atomic act: the execution row,
-- the workflow's total_executions and last_executed_at, and an audit row, all or nothing.
--
-- Locks: the workflow row FOR UPDATE NOWAIT; a busy workflow answers 55P03 with
-- retry_recommended (the client queues callers of one workflow on an advisory lock before
-- their snapshot, so they rarely see it).  Isolation: REPEATABLE READ from the client; a
-- caller whose snapshot predates another's update of the workflow gets 40001, raised.
-- Idempotency: p_execution_id; the same id with the same parameters answers the first
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
         WHERE e.id = p_execution_id;
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

    INSERT INTO campaigndb.n8n_campaign_executions
           (id, workspace_id, workspace_n8n_workflow_id, campaign_approval_session_id,
            campaign_name, campaign_type, execution_status, execution_config, execution_number)
    VALUES (COALESCE(p_execution_id, gen_random_uuid()), p_workspace_id,
            p_workspace_n8n_workflow_id, p_campaign_approval_session_id, p_campaign_name,
            p_campaign_type, 'pending', v_config, v_total)
    ON CONFLICT (id) DO NOTHING
    RETURNING id INTO v_id;
    IF v_id IS NULL THEN
        -- the same id committed meanwhile (a concurrent repeat): undo, then answer as a replay
        RAISE EXCEPTION 'execution id already used' USING ERRCODE = 'CD001';
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
             WHERE e.id = p_execution_id;
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

-- source: sql/functions/log_campaign_execution_performance.sql
-- campaigndb.log_campaign_execution_performance: trigger on n8n_campaign_executions; when
-- an execution finishes (its status becomes completed or failed) it records the execution's
-- performance in transaction_metrics and an audit row, in the same transaction.
CREATE OR REPLACE FUNCTION campaigndb.log_campaign_execution_performance()
RETURNS trigger
LANGUAGE plpgsql
AS $function$
BEGIN
    INSERT INTO campaigndb.transaction_metrics
           (operation_name, campaign_id, duration_ms, success, error_message, retry_count,
            isolation_level)
    VALUES ('campaign_execution:' || NEW.campaign_type, NULL, COALESCE(NEW.duration_ms, 0),
            NEW.execution_status = 'completed', NEW.error_message, 0, NULL);
    INSERT INTO campaigndb.workflow_deployment_history
           (workspace_id, workflow_id, execution_id, event_type, details)
    VALUES (NEW.workspace_id, NEW.workspace_n8n_workflow_id, NEW.id,
            'campaign_execution_' || NEW.execution_status,
            pg_catalog.jsonb_build_object('duration_ms', NEW.duration_ms,
                                          'error_message', NEW.error_message));
    RETURN NULL;
END
$function$;

REVOKE ALL ON FUNCTION campaigndb.log_campaign_execution_performance() FROM PUBLIC;

CREATE OR REPLACE TRIGGER log_campaign_execution_performance
    AFTER UPDATE OF execution_status ON campaigndb.n8n_campaign_executions
    FOR EACH ROW
    WHEN (NEW.execution_status IN ('completed', 'failed')
          AND OLD.execution_status IS DISTINCT FROM NEW.execution_status)
    EXECUTE FUNCTION campaigndb.log_campaign_execution_performance();

-- source: sql/functions/complete_campaign_execution.sql
-- complete_campaign_execution: finish an execution: pending or running -> completed or
-- failed, with duration_ms computed from started_at.  A repeat of the same completion (same
-- status, result and error) answers replayed: true; any other transition: 55000.
-- The trigger log_campaign_execution_performance records the execution's performance in
-- transaction_metrics and the audit trail, in the same transaction.
-- Isolation: READ COMMITTED; the execution row is locked FOR UPDATE.
-- SQLSTATEs in the envelope: 23502, 22023 (status not completed/failed, result not an
-- object), P0002 (execution not found), 55000 (already finished otherwise), 42501.
-- SECURITY DEFINER: callers hold EXECUTE only, no table privileges.
CREATE OR REPLACE FUNCTION public.complete_campaign_execution(
    p_execution_id   uuid,
    p_status         text,
    p_result         jsonb DEFAULT NULL,
    p_error_message  text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_execution  campaigndb.n8n_campaign_executions%ROWTYPE;
    v_duration   integer;
    v_state text; v_msg text; v_detail text; v_hint text;
    v_constraint text; v_column text; v_table text;
BEGIN
    IF p_execution_id IS NULL THEN
        RAISE EXCEPTION 'p_execution_id is required' USING ERRCODE = '23502', COLUMN = 'execution_id';
    ELSIF p_status IS NULL THEN
        RAISE EXCEPTION 'p_status is required' USING ERRCODE = '23502', COLUMN = 'execution_status';
    ELSIF p_status NOT IN ('completed', 'failed') THEN
        RAISE EXCEPTION 'p_status must be completed or failed, got %', quote_literal(left(p_status, 40))
              USING ERRCODE = '22023', COLUMN = 'execution_status';
    ELSIF p_result IS NOT NULL AND jsonb_typeof(p_result) <> 'object' THEN
        RAISE EXCEPTION 'p_result must be a JSON object, got %', jsonb_typeof(p_result)
              USING ERRCODE = '22023', COLUMN = 'result';
    ELSIF length(p_error_message) > 10000 THEN
        RAISE EXCEPTION 'p_error_message is longer than 10000 characters'
              USING ERRCODE = '22023', COLUMN = 'error_message';
    END IF;

    SELECT * INTO v_execution FROM campaigndb.n8n_campaign_executions AS e
     WHERE e.id = p_execution_id
       FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'execution % not found', p_execution_id
              USING ERRCODE = 'P0002', TABLE = 'n8n_campaign_executions';
    END IF;
    PERFORM campaigndb.assert_workspace_access(v_execution.workspace_id,
                                               'execution ' || p_execution_id);

    IF v_execution.execution_status IN ('completed', 'failed') THEN
        IF (v_execution.execution_status, v_execution.result, v_execution.error_message)
           IS NOT DISTINCT FROM (p_status, p_result, p_error_message) THEN
            RETURN campaigndb.envelope_ok(jsonb_build_object(
                'execution_id', p_execution_id, 'execution_status', v_execution.execution_status,
                'duration_ms', v_execution.duration_ms, 'replayed', true));
        END IF;
        RAISE EXCEPTION 'execution % is already %', p_execution_id, v_execution.execution_status
              USING ERRCODE = '55000',
                    HINT = 'only a pending or running execution can be completed';
    END IF;

    -- capped at the integer column's limit (24.8 days): a stale execution can still finish
    v_duration := LEAST(GREATEST(0, round(extract(epoch FROM clock_timestamp()
                                                        - v_execution.started_at) * 1000)),
                        2147483647)::integer;
    UPDATE campaigndb.n8n_campaign_executions AS e
       SET execution_status = p_status,
           result = p_result,
           error_message = p_error_message,
           completed_at = clock_timestamp(),
           duration_ms = v_duration
     WHERE e.id = p_execution_id;

    RETURN campaigndb.envelope_ok(jsonb_build_object(
        'execution_id', p_execution_id, 'execution_status', p_status,
        'duration_ms', v_duration, 'replayed', false));
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

REVOKE ALL ON FUNCTION public.complete_campaign_execution(uuid, text, jsonb, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.complete_campaign_execution(uuid, text, jsonb, text)
    TO campaigndb_app;

-- source: sql/functions/validate_campaign_execution_constraints.sql
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

-- source: sql/functions/get_campaign_execution_metrics.sql
-- get_campaign_execution_metrics: a workspace's executions created since p_since: counts by
-- status, success_rate (completed / finished, null when none finished), avg and p95
-- duration of finished ones, and peak_concurrent: the most executions running at once
-- (an unfinished execution counts as running until now).
-- Served by n8n_campaign_executions_workspace_created_idx (workspace_id, created_at).
-- Isolation: READ COMMITTED, read only.
-- SQLSTATEs in the envelope: 23502, 22023 (p_since in the future), 42501.
-- SECURITY DEFINER: callers hold EXECUTE only, no table privileges.
CREATE OR REPLACE FUNCTION public.get_campaign_execution_metrics(
    p_workspace_id  uuid,
    p_since         timestamptz DEFAULT now() - interval '24 hours')
RETURNS jsonb
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_metrics  jsonb;
    v_peak     bigint;
    v_since    timestamptz := COALESCE(p_since, now() - interval '24 hours');
    v_state text; v_msg text; v_detail text; v_hint text;
    v_constraint text; v_column text; v_table text;
BEGIN
    IF p_workspace_id IS NULL THEN
        RAISE EXCEPTION 'p_workspace_id is required' USING ERRCODE = '23502', COLUMN = 'workspace_id';
    ELSIF v_since > now() THEN
        RAISE EXCEPTION 'p_since is in the future: %', v_since USING ERRCODE = '22023';
    END IF;
    PERFORM campaigndb.assert_workspace_access(p_workspace_id, 'workspace ' || p_workspace_id);

    SELECT jsonb_build_object(
               'total', count(*),
               'pending', count(*) FILTER (WHERE e.execution_status = 'pending'),
               'running', count(*) FILTER (WHERE e.execution_status = 'running'),
               'completed', count(*) FILTER (WHERE e.execution_status = 'completed'),
               'failed', count(*) FILTER (WHERE e.execution_status = 'failed'),
               'success_rate', round(count(*) FILTER (WHERE e.execution_status = 'completed')::numeric
                                     / NULLIF(count(*) FILTER (WHERE e.execution_status
                                                               IN ('completed', 'failed')), 0), 4),
               'avg_duration_ms', round(avg(e.duration_ms), 1),
               'p95_duration_ms', percentile_cont(0.95) WITHIN GROUP (ORDER BY e.duration_ms)
                                  FILTER (WHERE e.duration_ms IS NOT NULL))
      INTO v_metrics
      FROM campaigndb.n8n_campaign_executions AS e
     WHERE e.workspace_id = p_workspace_id AND e.created_at >= v_since;

    -- sweep line: +1 at each start, -1 at each end; the running sum's maximum
    SELECT COALESCE(max(running), 0) INTO v_peak
      FROM (SELECT sum(delta) OVER (ORDER BY at, delta) AS running
              FROM (SELECT e.started_at AS at, 1 AS delta
                      FROM campaigndb.n8n_campaign_executions AS e
                     WHERE e.workspace_id = p_workspace_id AND e.created_at >= v_since
                    UNION ALL
                    SELECT COALESCE(e.completed_at, now()), -1
                      FROM campaigndb.n8n_campaign_executions AS e
                     WHERE e.workspace_id = p_workspace_id AND e.created_at >= v_since) AS events
           ) AS sweep;

    RETURN campaigndb.envelope_ok(v_metrics || jsonb_build_object(
        'peak_concurrent', v_peak, 'since', v_since));
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

REVOKE ALL ON FUNCTION public.get_campaign_execution_metrics(uuid, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.get_campaign_execution_metrics(uuid, timestamptz)
    TO campaigndb_app, campaigndb_readonly;

-- source: sql/functions/get_database_health_metrics.sql
-- get_database_health_metrics: the server's vital signs for monitoring and the client's
-- health monitor: the server's client connections by state against max_connections, the
-- buffer cache hit ratio, the database size, the longest open transaction, waiting locks
-- and deadlocks so far (pg_stat_activity, pg_stat_database, pg_locks, settings).
-- The owning role should be a member of pg_monitor (superusers are): without it the states
-- of other roles' sessions are hidden and count as unknown.
-- Isolation: READ COMMITTED, read only.  SECURITY DEFINER: callers hold EXECUTE only.
CREATE OR REPLACE FUNCTION public.get_database_health_metrics()
RETURNS jsonb
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_connections  jsonb;
    v_max          integer := current_setting('max_connections')::integer;
    v_state text; v_msg text; v_detail text; v_hint text;
    v_constraint text; v_column text; v_table text;
BEGIN
    SELECT jsonb_build_object(
               'total', count(*),
               'active', count(*) FILTER (WHERE a.state = 'active'),
               'idle', count(*) FILTER (WHERE a.state = 'idle'),
               'idle_in_transaction', count(*) FILTER (WHERE a.state LIKE 'idle in transaction%'),
               'max', v_max,
               'usage_pct', round(100.0 * count(*) / v_max, 2))
      INTO v_connections
      FROM pg_stat_activity AS a
     WHERE a.backend_type = 'client backend';

    RETURN campaigndb.envelope_ok(jsonb_build_object(
        'connections', v_connections,
        'cache_hit_ratio',
            (SELECT round(d.blks_hit::numeric / NULLIF(d.blks_hit + d.blks_read, 0), 4)
               FROM pg_stat_database AS d WHERE d.datname = current_database()),
        'database_size_bytes', pg_database_size(current_database()),
        'longest_transaction_s',
            (SELECT COALESCE(round(extract(epoch FROM max(clock_timestamp() - a.xact_start))::numeric, 3), 0)
               FROM pg_stat_activity AS a
              WHERE a.xact_start IS NOT NULL AND a.backend_type = 'client backend'
                AND a.pid <> pg_backend_pid()),
        'waiting_locks', (SELECT count(*) FROM pg_locks AS l WHERE NOT l.granted),
        'deadlocks',
            (SELECT d.deadlocks FROM pg_stat_database AS d WHERE d.datname = current_database()),
        'measured_at', clock_timestamp()));
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

REVOKE ALL ON FUNCTION public.get_database_health_metrics() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.get_database_health_metrics() TO campaigndb_app, campaigndb_readonly;
