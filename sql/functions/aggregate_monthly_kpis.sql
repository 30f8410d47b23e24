-- aggregate_monthly_kpis: replace one month's campaign_summaries with the totals and ratios of
-- daily_kpi_data (docs/functions.md), and write its collection_log row, all or nothing.
--
-- Scope: p_campaign_id (P0002 when unknown), else every campaign of the bound workspace, or
-- every campaign.  The month's summaries in scope are deleted first: a re-run never doubles.
-- Locks: a transaction-level advisory lock per month, taken before anything is read, so runs
-- for the same month take turns; at READ COMMITTED the second sees the first's result.
-- Any error undoes the whole call (the previous summaries stay, no log row).
-- Idempotency: p_idempotency_key (optional), as in upsert_daily_kpi_batch.
-- SQLSTATEs in the envelope: 23502, 22023, P0002, 42501, 23505.
-- SECURITY DEFINER: callers hold EXECUTE only, no table privileges.
CREATE OR REPLACE FUNCTION public.aggregate_monthly_kpis(
    p_month            date,
    p_campaign_id      uuid DEFAULT NULL,
    p_idempotency_key  text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    -- first key of the advisory lock: this function's own namespace
    c_lock_space    constant integer := 727115001;
    v_scope         uuid[];
    v_month         date;
    v_next          date;
    v_workspace_id  uuid;
    v_hash          text;
    v_deleted       integer;
    v_written       integer;
    v_result        jsonb;
    v_log_id        bigint;
    v_state text; v_msg text; v_detail text; v_hint text;
    v_constraint text; v_column text; v_table text;
BEGIN
    -- here, not in DECLARE: a malformed binding must reach the handler below (22023)
    v_scope := campaigndb.caller_workspaces(true);
    IF p_month IS NULL THEN
        RAISE EXCEPTION 'p_month is required' USING ERRCODE = '23502', COLUMN = 'month';
    ELSIF p_month NOT BETWEEN DATE '1000-01-01' AND DATE '2999-12-31' THEN
        RAISE EXCEPTION 'p_month must be between 1000 and 2999, got %', p_month
              USING ERRCODE = '22023', COLUMN = 'month';
    ELSIF p_idempotency_key IS NOT NULL AND length(p_idempotency_key) NOT BETWEEN 1 AND 200 THEN
        RAISE EXCEPTION 'p_idempotency_key must be 1 to 200 characters'
              USING ERRCODE = '22023', COLUMN = 'idempotency_key';
    END IF;
    v_month := date_trunc('month', p_month)::date;
    v_next := (v_month + interval '1 month')::date;
    v_hash := md5(jsonb_build_array('aggregate_monthly_kpis', v_month, p_campaign_id)::text);

    IF p_idempotency_key IS NOT NULL THEN
        PERFORM FROM campaigndb.collection_log AS l
         WHERE l.idempotency_key = p_idempotency_key
           AND (v_scope IS NULL OR l.workspace_id = ANY (v_scope));
        IF FOUND THEN
            RAISE EXCEPTION 'idempotency key already used' USING ERRCODE = 'CD001';
        END IF;
    END IF;

    IF p_campaign_id IS NOT NULL THEN
        SELECT c.workspace_id INTO v_workspace_id FROM campaigndb.campaigns AS c
         WHERE c.id = p_campaign_id;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'campaign % not found', p_campaign_id
                  USING ERRCODE = 'P0002', TABLE = 'campaigns';
        END IF;
        PERFORM campaigndb.assert_workspace_access(v_workspace_id, 'campaign ' || p_campaign_id);
    ELSIF cardinality(v_scope) = 1 THEN
        v_workspace_id := v_scope[1];
    ELSIF v_scope IS NOT NULL AND p_idempotency_key IS NOT NULL THEN
        -- a key lives in one workspace: name the campaign, or bind the session to one
        RAISE EXCEPTION 'a session bound to several workspaces must name p_campaign_id '
                        'to use an idempotency key'
              USING ERRCODE = '22023', COLUMN = 'idempotency_key';
    END IF;

    -- One run per month at a time.  At READ COMMITTED each statement below takes its
    -- snapshot after this lock is granted, so it sees a concurrent run's committed result.
    PERFORM pg_advisory_xact_lock(c_lock_space, hashtext(v_month::text));

    DELETE FROM campaigndb.campaign_summaries AS s
     WHERE s.period_type = 'month' AND s.period_start = v_month
       AND (p_campaign_id IS NULL OR s.campaign_id = p_campaign_id)
       AND (v_scope IS NULL OR p_campaign_id IS NOT NULL
            OR s.campaign_id IN (SELECT c.id FROM campaigndb.campaigns AS c
                                  WHERE c.workspace_id = ANY (v_scope)));
    GET DIAGNOSTICS v_deleted = ROW_COUNT;

    INSERT INTO campaigndb.campaign_summaries
           (campaign_id, period_type, period_start, impressions, clicks, spend, conversions,
            revenue, ctr, cpc, conversion_rate, roas, days_reported, computed_at)
    SELECT t.campaign_id, 'month', v_month, t.impressions, t.clicks, t.spend, t.conversions,
           t.revenue,
           round(t.clicks::numeric / NULLIF(t.impressions, 0), 6),
           round(t.spend / NULLIF(t.clicks, 0), 6),
           round(t.conversions::numeric / NULLIF(t.clicks, 0), 6),
           round(t.revenue / NULLIF(t.spend, 0), 6),
           t.days_reported, now()
      FROM (SELECT d.campaign_id, sum(d.impressions)::bigint AS impressions,
                   sum(d.clicks)::bigint AS clicks, sum(d.spend) AS spend,
                   sum(d.conversions)::bigint AS conversions, sum(d.revenue) AS revenue,
                   count(DISTINCT d.kpi_date)::integer AS days_reported
              FROM campaigndb.daily_kpi_data AS d
             WHERE d.kpi_date >= v_month AND d.kpi_date < v_next
               AND (p_campaign_id IS NULL OR d.campaign_id = p_campaign_id)
               AND (v_scope IS NULL OR p_campaign_id IS NOT NULL
                    OR d.campaign_id IN (SELECT c.id FROM campaigndb.campaigns AS c
                                          WHERE c.workspace_id = ANY (v_scope)))
             GROUP BY d.campaign_id) AS t;
    GET DIAGNOSTICS v_written = ROW_COUNT;

    v_result := jsonb_build_object(
        'summaries_written', v_written, 'summaries_replaced', v_deleted,
        'month', v_month, 'campaign_id', p_campaign_id);
    INSERT INTO campaigndb.collection_log
           (workspace_id, job, period, status, rows_affected, started_at, finished_at,
            idempotency_key, request_hash, result)
    VALUES (v_workspace_id, 'aggregate_monthly_kpis', to_char(v_month, 'YYYY-MM'),
            'succeeded', v_written, now(), clock_timestamp(), p_idempotency_key, v_hash,
            v_result)
    ON CONFLICT DO NOTHING  -- the key's index: (workspace_id, idempotency_key)
    RETURNING id INTO v_log_id;
    IF v_log_id IS NULL THEN
        RAISE EXCEPTION 'idempotency key already used' USING ERRCODE = 'CD001';
    END IF;

    RETURN campaigndb.envelope_ok(v_result || jsonb_build_object(
        'collection_log_id', v_log_id, 'replayed', false));
EXCEPTION
    WHEN transaction_rollback THEN
        RAISE;  -- 40001/40P01 must reach the caller: the whole transaction is retried
    WHEN SQLSTATE 'CD001' THEN
        -- internal signal from above: the key is on a collection_log row already
        RETURN campaigndb.collection_log_replay(p_idempotency_key, 'aggregate_monthly_kpis', v_hash, 'run');
    WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_msg = MESSAGE_TEXT,
            v_detail = PG_EXCEPTION_DETAIL, v_hint = PG_EXCEPTION_HINT,
            v_constraint = CONSTRAINT_NAME, v_column = COLUMN_NAME, v_table = TABLE_NAME;
        RETURN campaigndb.envelope_error(v_state, v_msg, v_detail, v_hint,
                                         v_constraint, v_column, v_table);
END
$function$;

REVOKE ALL ON FUNCTION public.aggregate_monthly_kpis(date, uuid, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.aggregate_monthly_kpis(date, uuid, text) TO campaigndb_app;
