-- Remove everything revision 0005_reporting created.
DELETE FROM campaigndb.error_codes WHERE sqlstate = '54001';
DROP FUNCTION IF EXISTS public.aggregate_monthly_kpis(date, uuid, text);
DROP FUNCTION IF EXISTS public.upsert_daily_kpi_batch(jsonb, text, text);
DROP FUNCTION IF EXISTS public.record_transaction_metric(varchar, uuid, integer, boolean, text,
                                                         integer, varchar, uuid);
ALTER TABLE campaigndb.collection_log
    DROP COLUMN IF EXISTS result,
    DROP COLUMN IF EXISTS request_hash,
    DROP COLUMN IF EXISTS idempotency_key,
    DROP COLUMN IF EXISTS source;

-- record_transaction_metric as revision 0004 created it (without p_metric_id)
-- record_transaction_metric: store one measurement of a call or transaction and return the
-- new row's id (CONTRACT.md section 3, Observability: a uuid, not an envelope).
-- Raises on bad input: 23502 (operation, duration or success missing), 22023 (negative
-- duration or retries, over-long text), 23503 (unknown campaign), 42501 (campaign of
-- another workspace than the bound one).
-- Isolation: READ COMMITTED; one INSERT.
-- SECURITY DEFINER: callers hold EXECUTE only, no table privileges.
CREATE OR REPLACE FUNCTION public.record_transaction_metric(
    p_operation_name   varchar,
    p_campaign_id      uuid,
    p_duration_ms      integer,
    p_success          boolean,
    p_error_message    text DEFAULT NULL,
    p_retry_count      integer DEFAULT 0,
    p_isolation_level  varchar DEFAULT NULL)
RETURNS uuid
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_workspace_id  uuid;
    v_id            uuid;
BEGIN
    IF p_operation_name IS NULL OR p_operation_name ~ '^\s*$' THEN
        RAISE EXCEPTION 'p_operation_name is required' USING ERRCODE = '23502';
    ELSIF length(p_operation_name) > 255 OR length(p_isolation_level) > 50 THEN
        RAISE EXCEPTION 'p_operation_name (255) or p_isolation_level (50) is too long'
              USING ERRCODE = '22023';
    ELSIF p_duration_ms IS NULL OR p_success IS NULL THEN
        RAISE EXCEPTION 'p_duration_ms and p_success are required' USING ERRCODE = '23502';
    ELSIF p_duration_ms < 0 OR COALESCE(p_retry_count, 0) < 0 THEN
        RAISE EXCEPTION 'p_duration_ms and p_retry_count must be >= 0' USING ERRCODE = '22023';
    END IF;
    IF p_campaign_id IS NOT NULL THEN
        SELECT c.workspace_id INTO v_workspace_id FROM campaigndb.campaigns AS c
         WHERE c.id = p_campaign_id;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'campaign % does not exist', p_campaign_id
                  USING ERRCODE = '23503', COLUMN = 'campaign_id';
        END IF;
        PERFORM campaigndb.assert_workspace_access(v_workspace_id, 'campaign ' || p_campaign_id);
    END IF;
    INSERT INTO campaigndb.transaction_metrics
           (operation_name, campaign_id, duration_ms, success, error_message, retry_count,
            isolation_level)
    VALUES (p_operation_name, p_campaign_id, p_duration_ms, p_success,
            left(p_error_message, 10000), COALESCE(p_retry_count, 0), p_isolation_level)
    RETURNING id INTO v_id;
    RETURN v_id;
END
$function$;

REVOKE ALL ON FUNCTION public.record_transaction_metric(varchar, uuid, integer, boolean, text,
                                                        integer, varchar) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.record_transaction_metric(varchar, uuid, integer, boolean, text,
                                                           integer, varchar) TO campaigndb_app;
