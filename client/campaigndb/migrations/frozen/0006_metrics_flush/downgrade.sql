-- Restore what revision 0006_metrics_flush replaced.
DROP INDEX IF EXISTS campaigndb.transaction_metrics_created_at_idx;
CREATE INDEX IF NOT EXISTS transaction_metrics_operation_idx
    ON campaigndb.transaction_metrics (operation_name, created_at DESC);

-- record_transaction_metrics as revision 0005_reporting created it
-- record_transaction_metrics: many measurements in one INSERT (the client's background
-- recorder flushes its buffer with it, so that recording costs calls nothing).
-- p_metrics: a JSON array of {operation_name, campaign_id, duration_ms, success,
-- error_message, retry_count, isolation_level, created_at (epoch seconds)}; at most 10,000.
-- Elements whose campaign no longer exists (or is of another workspace than the bound one)
-- are stored without it.  The campaigns are looked up by primary key, once per distinct id
-- (a flush names a handful): a join of the whole batch with campaigns became a sequential
-- scan of that table per flush, whose page pins kept the hottest campaign rows from being
-- pruned (non-HOT updates, then serialization conflicts for the very calls being measured).
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
    v_ids    uuid[];
    v_known  uuid[];
BEGIN
    IF p_metrics IS NULL OR jsonb_typeof(p_metrics) <> 'array' THEN
        RAISE EXCEPTION 'p_metrics must be a JSON array' USING ERRCODE = '22023';
    ELSIF jsonb_array_length(p_metrics) > 10000 THEN
        RAISE EXCEPTION 'p_metrics holds % elements; the limit is 10000',
                        jsonb_array_length(p_metrics) USING ERRCODE = '54000';
    END IF;
    SELECT array_agg(DISTINCT m.campaign_id) INTO v_ids
      FROM jsonb_to_recordset(p_metrics) AS m(campaign_id uuid)
     WHERE m.campaign_id IS NOT NULL;
    SELECT array_agg(c.id) INTO v_known
      FROM campaigndb.campaigns AS c
     WHERE c.id = ANY (v_ids) AND (v_bound IS NULL OR c.workspace_id = v_bound);
    -- Time-ordered ids (the UUIDv7 layout: 48 bits of Unix milliseconds, version 7, then
    -- the random bits of gen_random_uuid): a flush's rows land on the right edge of the
    -- primary key instead of on random leaf pages, each of which costs a full-page image
    -- in the WAL after every checkpoint (716 -> 455 WAL bytes per row, measured; a
    -- track_campaign_cost call writes about 670, so this is most of what recording costs).
    INSERT INTO campaigndb.transaction_metrics
           (id, operation_name, campaign_id, duration_ms, success, error_message, retry_count,
            isolation_level, created_at)
    SELECT encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid())
                                          PLACING substring(int8send(floor(extract(epoch FROM
                                              clock_timestamp()) * 1000)::bigint) FROM 3)
                                          FROM 1 FOR 6), 52, 1), 53, 1), 'hex')::uuid,
           m.operation_name, CASE WHEN m.campaign_id = ANY (v_known) THEN m.campaign_id END,
           GREATEST(m.duration_ms, 0), m.success,
           left(m.error_message, 10000), GREATEST(COALESCE(m.retry_count, 0), 0),
           m.isolation_level, COALESCE(to_timestamp(m.created_at), now())
      FROM jsonb_to_recordset(p_metrics) AS m(operation_name varchar, campaign_id uuid,
                                              duration_ms integer, success boolean,
                                              error_message text, retry_count integer,
                                              isolation_level varchar,
                                              created_at double precision);
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    RETURN v_rows;
END
$function$;

REVOKE ALL ON FUNCTION public.record_transaction_metrics(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.record_transaction_metrics(jsonb) TO campaigndb_app;
