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
    v_completed  timestamptz;
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
    -- the clock read once, so that duration and completed_at agree, and outside the UPDATE:
    -- Citus refuses volatile functions in an UPDATE of its tables
    v_completed := clock_timestamp();
    v_duration := LEAST(GREATEST(0, round(extract(epoch FROM v_completed
                                                        - v_execution.started_at) * 1000)),
                        2147483647)::integer;
    UPDATE campaigndb.n8n_campaign_executions AS e
       SET execution_status = p_status,
           result = p_result,
           error_message = p_error_message,
           completed_at = v_completed,
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
