-- update_campaign_statistics: recompute a campaign's totals from its rows (never increments).
-- Isolation: READ COMMITTED.  Recounts of one campaign queue on a transaction-level advisory
-- lock of their own (namespace 0x43444202, the campaign id's first 4 bytes as the key; the
-- client's hot-row lock uses 0x43444201), held until commit, so concurrent recomputations
-- never interleave; each counts in a statement that starts after it holds that lock, so it
-- sees every batch committed before it.  The campaign row itself is locked only by the
-- final UPDATE, and only when a figure changed: track_campaign_cost, which updates that row
-- on every call, never waits for the count (docs/limits.md).  Business inserts take only
-- KEY SHARE on the campaign: they are never blocked by either lock.
-- SQLSTATEs in the envelope: 23502, P0002, 42501.
-- SECURITY DEFINER: callers hold EXECUTE only, no table privileges.
CREATE OR REPLACE FUNCTION public.update_campaign_statistics(p_campaign_id uuid)
RETURNS jsonb
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_workspace_id  uuid;
    v_businesses    integer;
    v_emails        integer;
    v_facebook      integer;
    v_linkedin      integer;
    v_state text; v_msg text; v_detail text; v_hint text;
    v_constraint text; v_column text; v_table text;
BEGIN
    IF p_campaign_id IS NULL THEN
        RAISE EXCEPTION 'p_campaign_id is required' USING ERRCODE = '23502', COLUMN = 'campaign_id';
    END IF;
    SELECT c.workspace_id INTO v_workspace_id FROM campaigndb.campaigns AS c
     WHERE c.id = p_campaign_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'campaign % not found', p_campaign_id
              USING ERRCODE = 'P0002', TABLE = 'campaigns';
    END IF;
    PERFORM campaigndb.assert_workspace_access(v_workspace_id, 'campaign ' || p_campaign_id);
    PERFORM pg_advisory_xact_lock(
        1128546818,  -- 0x43444202: recounts
        ('x' || left(replace(p_campaign_id::text, '-', ''), 8))::bit(32)::integer);

    SELECT count(*),
           count(*) FILTER (WHERE b.email <> ''),
           count(*) FILTER (WHERE b.facebook_url <> ''),
           count(*) FILTER (WHERE b.linkedin_url <> '')
      INTO v_businesses, v_emails, v_facebook, v_linkedin
      FROM campaigndb.gmaps_businesses AS b
     WHERE b.campaign_id = p_campaign_id;

    UPDATE campaigndb.campaigns AS c
       SET total_businesses = v_businesses,
           total_emails = v_emails,
           total_facebook_pages = v_facebook,
           total_linkedin_profiles = v_linkedin,
           updated_at = now()
     WHERE c.id = p_campaign_id
       AND (c.total_businesses, c.total_emails, c.total_facebook_pages,
            c.total_linkedin_profiles)
           IS DISTINCT FROM (v_businesses, v_emails, v_facebook, v_linkedin);

    RETURN campaigndb.envelope_ok(jsonb_build_object(
        'total_businesses', v_businesses, 'total_emails', v_emails,
        'total_facebook_pages', v_facebook, 'total_linkedin_profiles', v_linkedin));
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

REVOKE ALL ON FUNCTION public.update_campaign_statistics(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.update_campaign_statistics(uuid) TO campaigndb_app;
