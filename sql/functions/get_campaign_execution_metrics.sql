-- get_campaign_execution_metrics: a workspace's executions created since p_since: counts by
-- status, success_rate (completed / finished, null when none finished), avg and p95
-- duration of finished ones, and peak_concurrent: the most executions running at once
-- (an unfinished execution counts as running until now).
-- Served by n8n_campaign_executions_workspace_created_idx (workspace_id, created_at).
-- Isolation: READ COMMITTED, read only.
-- p_since in the future is an empty window: zeros and nulls, success (not an error).
-- SQLSTATEs in the envelope: 23502, 42501.
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
