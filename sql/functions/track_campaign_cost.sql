-- track_campaign_cost: record one API cost row and add it to campaigns.total_cost, atomically.
--
-- Isolation: SERIALIZABLE, declared below (default_transaction_isolation) so that callers
-- that open the transaction from the function's settings (PostgREST) use it too.  Locks: the
-- campaign row FOR NO KEY UPDATE before anything is written (exact at READ COMMITTED too);
-- a caller that waited for it gets 40001.  40001/40P01 are never caught: the caller retries.
-- Order: UPDATE the campaign, INSERT the cost row; a reused key leaves through the handler
-- (CD001, internal), which undoes the UPDATE and answers the replay.
-- enable_seqscan = off and jit = off keep callers on different campaigns from conflicting
-- (SSI hygiene: docs/design.md, "SERIALIZABLE without the retry storm").
-- Money: numeric(18,6); more than 6 decimals: 22023; 1e12 or more (or a total reaching it):
-- 22003 (docs/limits.md).
-- Idempotency: p_idempotency_key, per campaign; a repeat with the same parameters returns the
-- first cost_id with replayed: true and adds nothing; same key, other parameters: 23505.
-- SQLSTATEs in the envelope: 23502, 22023, 22003, P0002, 42501, 23505, 55P03.
-- SECURITY DEFINER: callers hold EXECUTE only, no table privileges.
CREATE OR REPLACE FUNCTION public.track_campaign_cost(
    p_campaign_id      uuid,
    p_service          varchar,
    p_items_processed  integer,
    p_cost_usd         numeric,
    p_metadata         jsonb,
    p_idempotency_key  text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET default_transaction_isolation = 'serializable'
SET enable_seqscan = off
SET jit = off
AS $function$
DECLARE
    v_metadata      jsonb := COALESCE(p_metadata, '{}'::jsonb);
    v_workspace_id  uuid;
    v_cost_id       uuid;
    v_total         numeric;
    v_prior         campaigndb.gmaps_api_costs%ROWTYPE;
    v_state text; v_msg text; v_detail text; v_hint text;
    v_constraint text; v_column text; v_table text;
BEGIN
    IF p_campaign_id IS NULL THEN
        RAISE EXCEPTION 'p_campaign_id is required' USING ERRCODE = '23502', COLUMN = 'campaign_id';
    ELSIF p_service IS NULL OR btrim(p_service) = '' THEN
        RAISE EXCEPTION 'p_service is required' USING ERRCODE = '23502', COLUMN = 'service';
    ELSIF length(p_service) > 64 THEN
        RAISE EXCEPTION 'p_service is longer than 64 characters'
              USING ERRCODE = '22023', COLUMN = 'service';
    ELSIF p_items_processed IS NULL THEN
        RAISE EXCEPTION 'p_items_processed is required'
              USING ERRCODE = '23502', COLUMN = 'items_processed';
    ELSIF p_items_processed < 0 THEN
        RAISE EXCEPTION 'p_items_processed must be >= 0, got %', p_items_processed
              USING ERRCODE = '22023', COLUMN = 'items_processed';
    ELSIF p_cost_usd IS NULL THEN
        RAISE EXCEPTION 'p_cost_usd is required' USING ERRCODE = '23502', COLUMN = 'cost_usd';
    ELSIF p_cost_usd IN ('NaN'::numeric, 'Infinity'::numeric, '-Infinity'::numeric)
          OR p_cost_usd < 0 THEN
        RAISE EXCEPTION 'p_cost_usd must be a finite number >= 0, got %', p_cost_usd
              USING ERRCODE = '22023', COLUMN = 'cost_usd';
    ELSIF p_cost_usd >= 1e12 THEN
        RAISE EXCEPTION 'p_cost_usd must be below 1e12, got %', p_cost_usd
              USING ERRCODE = '22003', COLUMN = 'cost_usd';
    ELSIF round(p_cost_usd, 6) <> p_cost_usd THEN
        RAISE EXCEPTION 'p_cost_usd has more than 6 decimal places (micro-dollars), got %',
                        left(p_cost_usd::text, 40)
              USING ERRCODE = '22023', COLUMN = 'cost_usd',
                    HINT = 'round the cost to 6 decimal places';
    ELSIF jsonb_typeof(v_metadata) <> 'object' THEN
        RAISE EXCEPTION 'p_metadata must be a JSON object, got %', jsonb_typeof(v_metadata)
              USING ERRCODE = '22023', COLUMN = 'metadata';
    ELSIF p_idempotency_key IS NOT NULL AND length(p_idempotency_key) NOT BETWEEN 1 AND 200 THEN
        RAISE EXCEPTION 'p_idempotency_key must be 1 to 200 characters'
              USING ERRCODE = '22023', COLUMN = 'idempotency_key';
    END IF;

    -- The UPDATE takes the campaign row lock first: concurrent callers of one campaign queue
    -- here, and everything below runs while this caller holds it.
    UPDATE campaigndb.campaigns AS c
       SET total_cost = c.total_cost + p_cost_usd,
           updated_at = now()
     WHERE c.id = p_campaign_id
       AND c.total_cost + p_cost_usd < 1e12  -- numeric(18,6): see the check below
    RETURNING c.workspace_id, c.total_cost INTO v_workspace_id, v_total;
    IF NOT FOUND THEN
        SELECT c.total_cost INTO v_total FROM campaigndb.campaigns AS c
         WHERE c.id = p_campaign_id;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'campaign % not found', p_campaign_id
                  USING ERRCODE = 'P0002', TABLE = 'campaigns';
        END IF;
        RAISE EXCEPTION 'p_cost_usd % would bring the campaign''s total_cost (%) to 1e12 or more',
                        p_cost_usd, v_total
              USING ERRCODE = '22003', COLUMN = 'cost_usd', TABLE = 'campaigns';
    END IF;
    PERFORM campaigndb.assert_workspace_access(v_workspace_id, 'campaign ' || p_campaign_id);

    INSERT INTO campaigndb.gmaps_api_costs
           (campaign_id, service, items_processed, cost_usd, metadata, idempotency_key)
    VALUES (p_campaign_id, p_service, p_items_processed, p_cost_usd, v_metadata,
            p_idempotency_key)
    ON CONFLICT (campaign_id, idempotency_key) DO NOTHING
    RETURNING id INTO v_cost_id;
    IF v_cost_id IS NULL THEN
        -- The key was used before.  Undo the addition above by leaving through the handler
        -- (its subtransaction rolls back), which then tells a replay from a mismatch.
        RAISE EXCEPTION 'idempotency key already used' USING ERRCODE = 'CD001';
    END IF;

    RETURN campaigndb.envelope_ok(jsonb_build_object(
        'cost_id', v_cost_id, 'new_total_cost', v_total, 'replayed', false));
EXCEPTION
    WHEN transaction_rollback THEN
        RAISE;  -- 40001/40P01 must reach the caller: the whole transaction is retried
    WHEN SQLSTATE 'CD001' THEN
        -- internal signal from above: a replay when every parameter matches the first call
        SELECT * INTO v_prior FROM campaigndb.gmaps_api_costs AS k
         WHERE k.campaign_id = p_campaign_id AND k.idempotency_key = p_idempotency_key;
        IF v_prior.service = p_service
           AND v_prior.items_processed = p_items_processed AND v_prior.cost_usd = p_cost_usd
           AND v_prior.metadata = v_metadata THEN
            SELECT c.total_cost INTO v_total FROM campaigndb.campaigns AS c
             WHERE c.id = p_campaign_id;
            RETURN campaigndb.envelope_ok(jsonb_build_object(
                'cost_id', v_prior.id, 'new_total_cost', v_total, 'replayed', true));
        END IF;
        RETURN campaigndb.envelope_error(
            '23505',
            format('idempotency key %s was already used with different parameters',
                   quote_literal(p_idempotency_key)),
            p_hint => 'generate a new key for a new cost; reuse a key only to retry the same call',
            p_constraint => 'gmaps_api_costs_idempotency_key_key');
    WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_msg = MESSAGE_TEXT,
            v_detail = PG_EXCEPTION_DETAIL, v_hint = PG_EXCEPTION_HINT,
            v_constraint = CONSTRAINT_NAME, v_column = COLUMN_NAME, v_table = TABLE_NAME;
        RETURN campaigndb.envelope_error(v_state, v_msg, v_detail, v_hint,
                                         v_constraint, v_column, v_table);
END
$function$;

REVOKE ALL ON FUNCTION public.track_campaign_cost(uuid, varchar, integer, numeric, jsonb, text)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.track_campaign_cost(uuid, varchar, integer, numeric, jsonb, text)
    TO campaigndb_app;
