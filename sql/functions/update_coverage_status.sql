-- update_coverage_status: record the outcome of scraping one ZIP code of a campaign.
-- Sets businesses_found, emails_found, actual_cost, status (default 'completed'; also
-- 'scraping', 'failed', 'skipped', 'pending') and scraped_at.  Repeating the call with the
-- same values leaves the same row: it is idempotent by nature.
-- Isolation: READ COMMITTED; one single-row UPDATE.
-- p_actual_cost is micro-dollars, numeric(18,6): more than 6 decimals 22023, 1e12 or more
-- 22003 (docs/limits.md).
-- SQLSTATEs in the envelope: 23502, 22023 (negative counts or cost, NaN), 22003, 23514 (unknown
-- status), P0002 (campaign, or the ZIP in its coverage, not found), 42501.
-- SECURITY DEFINER: callers hold EXECUTE only, no table privileges.
CREATE OR REPLACE FUNCTION public.update_coverage_status(
    p_campaign_id       uuid,
    p_zip_code          varchar,
    p_businesses_found  integer,
    p_emails_found      integer,
    p_actual_cost       numeric,
    p_status            text DEFAULT 'completed')
RETURNS jsonb
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_workspace_id  uuid;
    v_status        text;
    v_state text; v_msg text; v_detail text; v_hint text;
    v_constraint text; v_column text; v_table text;
BEGIN
    IF p_campaign_id IS NULL THEN
        RAISE EXCEPTION 'p_campaign_id is required' USING ERRCODE = '23502', COLUMN = 'campaign_id';
    ELSIF p_zip_code IS NULL OR btrim(p_zip_code) = '' THEN
        RAISE EXCEPTION 'p_zip_code is required' USING ERRCODE = '23502', COLUMN = 'zip_code';
    ELSIF p_businesses_found IS NULL OR p_emails_found IS NULL THEN
        RAISE EXCEPTION 'p_businesses_found and p_emails_found are required'
              USING ERRCODE = '23502';
    ELSIF p_businesses_found < 0 OR p_emails_found < 0 THEN
        RAISE EXCEPTION 'p_businesses_found and p_emails_found must be >= 0, got % and %',
                        p_businesses_found, p_emails_found USING ERRCODE = '22023';
    ELSIF p_emails_found > p_businesses_found THEN
        RAISE EXCEPTION 'p_emails_found (%) cannot exceed p_businesses_found (%)',
                        p_emails_found, p_businesses_found USING ERRCODE = '22023';
    ELSIF p_actual_cost IN ('NaN'::numeric, 'Infinity'::numeric, '-Infinity'::numeric)
          OR p_actual_cost < 0 THEN
        RAISE EXCEPTION 'p_actual_cost must be a finite number >= 0, got %', p_actual_cost
              USING ERRCODE = '22023', COLUMN = 'actual_cost';
    ELSIF p_actual_cost >= 1e12 THEN
        RAISE EXCEPTION 'p_actual_cost must be below 1e12, got %', p_actual_cost
              USING ERRCODE = '22003', COLUMN = 'actual_cost';
    ELSIF round(p_actual_cost, 6) <> p_actual_cost THEN
        RAISE EXCEPTION 'p_actual_cost has more than 6 decimal places (micro-dollars), got %',
                        left(p_actual_cost::text, 40)
              USING ERRCODE = '22023', COLUMN = 'actual_cost',
                    HINT = 'round the cost to 6 decimal places';
    END IF;

    SELECT c.workspace_id INTO v_workspace_id FROM campaigndb.campaigns AS c
     WHERE c.id = p_campaign_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'campaign % not found', p_campaign_id
              USING ERRCODE = 'P0002', TABLE = 'campaigns';
    END IF;
    PERFORM campaigndb.assert_workspace_access(v_workspace_id, 'campaign ' || p_campaign_id);

    UPDATE campaigndb.gmaps_campaign_coverage AS g
       SET status = COALESCE(p_status, 'completed'),
           businesses_found = p_businesses_found,
           emails_found = p_emails_found,
           actual_cost = p_actual_cost,
           scraped_at = now()
     WHERE g.campaign_id = p_campaign_id AND g.zip_code = btrim(p_zip_code)
    RETURNING g.status INTO v_status;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'ZIP code % is not in the coverage of campaign %',
                        quote_literal(p_zip_code), p_campaign_id
              USING ERRCODE = 'P0002', TABLE = 'gmaps_campaign_coverage',
                    HINT = 'create_campaign_with_coverage lists the ZIP codes of a campaign';
    END IF;

    RETURN campaigndb.envelope_ok(jsonb_build_object(
        'zip_code', btrim(p_zip_code), 'status', v_status));
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

REVOKE ALL ON FUNCTION public.update_coverage_status(uuid, varchar, integer, integer, numeric, text)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.update_coverage_status(uuid, varchar, integer, integer, numeric, text)
    TO campaigndb_app;
