-- record_transaction_metric: store one measurement of a call or transaction and return the
-- row's id (docs/functions.md, Observability: a uuid, not an envelope).
-- p_metric_id (optional, trailing) is the row's id chosen by the caller, and so its
-- idempotency key: a repeat with the same id and the same measurement returns that id and
-- stores nothing (a retry after a lost reply does not count the measurement twice); the
-- same id with another measurement raises 23505.
-- Raises on bad input: 23502 (operation, duration or success missing), 22023 (negative
-- duration or retries, over-long text), 23503 (unknown campaign), 42501 (campaign of
-- another workspace than the bound one), 23505 (id reused).
-- Isolation: READ COMMITTED; one INSERT.
-- SECURITY DEFINER: callers hold EXECUTE only, no table privileges.

-- the form without p_metric_id (revision 0004): replaced by the one below, whose trailing
-- default keeps every existing call valid
DROP FUNCTION IF EXISTS public.record_transaction_metric(varchar, uuid, integer, boolean, text,
                                                         integer, varchar);

CREATE OR REPLACE FUNCTION public.record_transaction_metric(
    p_operation_name   varchar,
    p_campaign_id      uuid,
    p_duration_ms      integer,
    p_success          boolean,
    p_error_message    text DEFAULT NULL,
    p_retry_count      integer DEFAULT 0,
    p_isolation_level  varchar DEFAULT NULL,
    p_metric_id        uuid DEFAULT NULL)
RETURNS uuid
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_workspace_id  uuid;
    v_id            uuid;
    v_prior         campaigndb.transaction_metrics%ROWTYPE;
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
    PERFORM campaigndb.caller_workspaces(true);  -- an unbound tenant records nothing (42501)
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
           (id, operation_name, campaign_id, duration_ms, success, error_message, retry_count,
            isolation_level)
    VALUES (COALESCE(p_metric_id, gen_random_uuid()), p_operation_name, p_campaign_id,
            p_duration_ms, p_success, left(p_error_message, 10000), COALESCE(p_retry_count, 0),
            p_isolation_level)
    ON CONFLICT (id) DO NOTHING
    RETURNING id INTO v_id;
    IF v_id IS NULL THEN
        SELECT * INTO v_prior FROM campaigndb.transaction_metrics AS m WHERE m.id = p_metric_id;
        IF (v_prior.operation_name, v_prior.campaign_id, v_prior.duration_ms, v_prior.success,
            v_prior.error_message, v_prior.retry_count, v_prior.isolation_level)
           IS NOT DISTINCT FROM
           (p_operation_name::varchar(255), p_campaign_id, p_duration_ms, p_success,
            left(p_error_message, 10000), COALESCE(p_retry_count, 0),
            p_isolation_level::varchar(50)) THEN
            RETURN p_metric_id;  -- the same measurement again: a retry
        END IF;
        RAISE EXCEPTION 'metric id % was already used for another measurement', p_metric_id
              USING ERRCODE = '23505', CONSTRAINT = 'transaction_metrics_pkey',
                    HINT = 'use a new id for a new measurement';
    END IF;
    RETURN v_id;
END
$function$;

REVOKE ALL ON FUNCTION public.record_transaction_metric(varchar, uuid, integer, boolean, text,
                                                        integer, varchar, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.record_transaction_metric(varchar, uuid, integer, boolean, text,
                                                           integer, varchar, uuid)
    TO campaigndb_app;
