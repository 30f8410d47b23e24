-- source: sql/functions/record_transaction_metric.sql
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

-- source: sql/functions/record_transaction_metrics.sql
-- record_transaction_metrics: many measurements in one INSERT (the client's background
-- recorder flushes its buffer with it, so that recording costs calls nothing).
-- p_metrics: a JSON array of {operation_name, campaign_id, duration_ms, success,
-- error_message, retry_count, isolation_level, created_at (epoch seconds)}; at most 10,000.
-- Elements whose campaign no longer exists (or is of another workspace than the bound one)
-- are stored without it.
-- Returns the number of rows written; raises 22023/23502/54000 on a malformed batch.
-- SECURITY DEFINER: callers hold EXECUTE only, no table privileges.
CREATE OR REPLACE FUNCTION public.record_transaction_metrics(p_metrics jsonb)
RETURNS integer
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_bound  uuid := campaigndb.bound_workspace_id();
    v_rows   integer;
BEGIN
    IF p_metrics IS NULL OR jsonb_typeof(p_metrics) <> 'array' THEN
        RAISE EXCEPTION 'p_metrics must be a JSON array' USING ERRCODE = '22023';
    ELSIF jsonb_array_length(p_metrics) > 10000 THEN
        RAISE EXCEPTION 'p_metrics holds % elements; the limit is 10000',
                        jsonb_array_length(p_metrics) USING ERRCODE = '54000';
    END IF;
    INSERT INTO campaigndb.transaction_metrics
           (operation_name, campaign_id, duration_ms, success, error_message, retry_count,
            isolation_level, created_at)
    SELECT m.operation_name, c.id, GREATEST(m.duration_ms, 0), m.success,
           left(m.error_message, 10000), GREATEST(COALESCE(m.retry_count, 0), 0),
           m.isolation_level, COALESCE(to_timestamp(m.created_at), now())
      FROM jsonb_to_recordset(p_metrics) AS m(operation_name varchar, campaign_id uuid,
                                              duration_ms integer, success boolean,
                                              error_message text, retry_count integer,
                                              isolation_level varchar,
                                              created_at double precision)
      LEFT JOIN campaigndb.campaigns AS c
             ON c.id = m.campaign_id AND (v_bound IS NULL OR c.workspace_id = v_bound);
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    RETURN v_rows;
END
$function$;

REVOKE ALL ON FUNCTION public.record_transaction_metrics(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.record_transaction_metrics(jsonb) TO campaigndb_app;
