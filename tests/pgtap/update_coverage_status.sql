-- update_coverage_status(p_campaign_id uuid, p_zip_code varchar, p_businesses_found integer,
--                        p_emails_found integer, p_actual_cost numeric,
--                        p_status text DEFAULT 'completed') -> jsonb
-- docs/contract.md section 3: records the outcome of scraping one ZIP of a campaign; returns
-- zip_code and status.  Sets businesses_found, emails_found, actual_cost, status and
-- scraped_at; counts and cost >= 0, emails <= businesses (22023); unknown status 23514;
-- campaign or ZIP not found P0002.
-- Runs in one transaction that is rolled back.
BEGIN;
SELECT plan(68);

-- Shared test helpers (pg_temp functions, gone with the session)
\ir lib/helpers.psql

-- coverage(campaign, zip): the coverage row, as jsonb
CREATE FUNCTION pg_temp.coverage(p_campaign_id uuid, p_zip_code text)
RETURNS jsonb
LANGUAGE sql
AS $$
    SELECT jsonb_build_object('status', g.status, 'businesses_found', g.businesses_found,
                              'emails_found', g.emails_found, 'estimated_cost', g.estimated_cost,
                              'actual_cost', g.actual_cost,
                              'scraped_at_is_now', g.scraped_at IS NOT DISTINCT FROM now())
      FROM campaigndb.gmaps_campaign_coverage AS g
     WHERE g.campaign_id = p_campaign_id AND g.zip_code = p_zip_code
$$;

-- ===========================================================================================
-- Definition: signature, return type, volatility, SECURITY DEFINER, pinned search_path
-- ===========================================================================================
SELECT * FROM pg_temp.definition(
    'update_coverage_status', ARRAY['uuid', 'character varying', 'integer', 'integer', 'numeric', 'text'], 'jsonb', 'volatile');
SELECT ok(EXISTS (SELECT 1 FROM unnest((SELECT p.proconfig FROM pg_catalog.pg_proc AS p
                                        WHERE p.oid = 'public.update_coverage_status(uuid, varchar, integer, integer, numeric, text)'::regprocedure)) AS c
                   WHERE c ~ '^search_path="?pg_catalog"?(\s*,\s*[^,]+)*\s*,\s*"?pg_temp"?$'),
          'update_coverage_status pins search_path to pg_catalog, ..., pg_temp');

-- ===========================================================================================
-- Privileges: campaigndb_app may EXECUTE; PUBLIC and campaigndb_readonly may not
-- ===========================================================================================
SELECT * FROM pg_temp.execute_privileges(
    'update_coverage_status', ARRAY['uuid', 'character varying', 'integer', 'integer', 'numeric', 'text'], false);

-- ===========================================================================================
-- Setup: workspace A with campaigns A1 (ZIPs 73301, 73344, 78701, 78702) and A2 (10001),
-- workspace B with campaign B1 (20001)
-- ===========================================================================================
\ir lib/workspaces.psql
\set a1_zips '[{"zip_code": "73301", "estimated_cost": 1.5}, "73344", "78701", "78702"]'
\ir lib/campaigns.psql

DO $do$
BEGIN
    SET LOCAL ROLE campaigndb_app;
    PERFORM set_config('campaigndb_test.as_app', update_coverage_status(
        'b1b1b1b1-0000-4000-8000-000000000001', '20001', 3, 1, 0.25)::text, true);
    RESET ROLE;
END
$do$;
SELECT is(current_setting('campaigndb_test.as_app')::jsonb,
          '{"success": true, "error": null, "error_code": null, "retry_recommended": false,
            "zip_code": "20001", "status": "completed"}'::jsonb,
          'campaigndb_app, which holds no table privilege, records a ZIP through the function');

SELECT throws_ok(
    $$DO $do$ BEGIN
          SET LOCAL ROLE campaigndb_readonly;
          PERFORM update_coverage_status('b1b1b1b1-0000-4000-8000-000000000001', '20001', 3, 1, 0.25);
      END $do$
    $$,
    '42501', NULL,
    'campaigndb_readonly is refused EXECUTE on update_coverage_status (42501)');

-- ===========================================================================================
-- Happy path: a completed ZIP (the default status)
-- ===========================================================================================
SELECT is(pg_temp.coverage('a1a1a1a1-0000-4000-8000-000000000001', '73301'),
          '{"status": "pending", "businesses_found": 0, "emails_found": 0,
            "estimated_cost": 1.5, "actual_cost": null, "scraped_at_is_now": false}'::jsonb,
          'before: ZIP 73301 of A1 is pending, not scraped');

CALL pg_temp.call('completed', $$
    SELECT update_coverage_status(p_campaign_id => 'a1a1a1a1-0000-4000-8000-000000000001',
                                  p_zip_code => '73301', p_businesses_found => 25,
                                  p_emails_found => 10, p_actual_cost => 2.75)
$$);
SELECT is(pg_temp.envelope('completed'),
          '{"success": true, "error": null, "error_code": null, "retry_recommended": false,
            "zip_code": "73301", "status": "completed"}'::jsonb,
          'completed: success envelope with zip_code and status completed');
SELECT is(pg_temp.coverage('a1a1a1a1-0000-4000-8000-000000000001', '73301'),
          '{"status": "completed", "businesses_found": 25, "emails_found": 10,
            "estimated_cost": 1.5, "actual_cost": 2.75, "scraped_at_is_now": true}'::jsonb,
          'completed: status, counts and actual_cost set, scraped_at set (to now()), '
          'estimated_cost kept');
SELECT is(pg_temp.rows_added('completed'), '{}'::jsonb, 'completed: no row added');
SELECT is(ARRAY(SELECT jsonb_object_keys(pg_temp.changes('completed'))),
          ARRAY['gmaps_campaign_coverage'], 'completed: only gmaps_campaign_coverage changed');
SELECT is(pg_temp.coverage('a1a1a1a1-0000-4000-8000-000000000001', '73344'),
          '{"status": "pending", "businesses_found": 0, "emails_found": 0,
            "estimated_cost": null, "actual_cost": null, "scraped_at_is_now": false}'::jsonb,
          'completed: the campaign''s other ZIPs are left alone');

-- the same call again leaves the same row (now() does not move inside this transaction)
CALL pg_temp.call('completed again', $$
    SELECT update_coverage_status('a1a1a1a1-0000-4000-8000-000000000001', '73301', 25, 10, 2.75)
$$);
SELECT is(pg_temp.envelope('completed again'), pg_temp.envelope('completed'),
          'completed again: the same envelope');
SELECT is(pg_temp.changes('completed again'), '{}'::jsonb,
          'completed again: the row is unchanged (idempotent)');

-- ===========================================================================================
-- Every status; a padded ZIP; zero counts and cost; NULL status means completed
-- ===========================================================================================
CALL pg_temp.call('failed', $$
    SELECT update_coverage_status('a1a1a1a1-0000-4000-8000-000000000001', '73344', 0, 0, 0.1,
                                  p_status => 'failed')
$$);
SELECT is(pg_temp.envelope('failed') - ARRAY['success', 'error', 'error_code', 'retry_recommended'],
          '{"zip_code": "73344", "status": "failed"}'::jsonb, 'failed: status failed returned');
SELECT is(pg_temp.coverage('a1a1a1a1-0000-4000-8000-000000000001', '73344'),
          '{"status": "failed", "businesses_found": 0, "emails_found": 0,
            "estimated_cost": null, "actual_cost": 0.1, "scraped_at_is_now": true}'::jsonb,
          'failed: the row holds status failed, zero counts, the cost');

SELECT is(ARRAY(SELECT update_coverage_status('a1a1a1a1-0000-4000-8000-000000000001', '78701',
                                               1, 0, 0, s) ->> 'status'
                  FROM unnest(ARRAY['scraping', 'skipped', 'pending', 'completed']) WITH ORDINALITY AS x(s, ord)
                 ORDER BY ord),
          ARRAY['scraping', 'skipped', 'pending', 'completed'],
          'statuses scraping, skipped, pending and completed are each accepted');

CALL pg_temp.call('padded ZIP, NULL status', $$
    SELECT update_coverage_status('a1a1a1a1-0000-4000-8000-000000000001', ' 78702 ', 4, 4, 0,
                                  p_status => NULL)
$$);
SELECT is(pg_temp.envelope('padded ZIP, NULL status'),
          '{"success": true, "error": null, "error_code": null, "retry_recommended": false,
            "zip_code": "78702", "status": "completed"}'::jsonb,
          'padded ZIP, NULL status: the ZIP is trimmed, NULL status means completed');
SELECT is(pg_temp.coverage('a1a1a1a1-0000-4000-8000-000000000001', '78702'),
          '{"status": "completed", "businesses_found": 4, "emails_found": 4,
            "estimated_cost": null, "actual_cost": 0, "scraped_at_is_now": true}'::jsonb,
          'padded ZIP, NULL status: emails_found may equal businesses_found, cost 0 accepted');

-- ===========================================================================================
-- Documented errors: 22023 (bad counts or cost), 23514 (unknown status), P0002, 23502
-- ===========================================================================================
SELECT * FROM pg_temp.fails_with('negative businesses_found', $$
    SELECT update_coverage_status('a1a1a1a1-0000-4000-8000-000000000001', '73301', -1, 0, 1)
$$, '22023');
SELECT * FROM pg_temp.fails_with('negative emails_found', $$
    SELECT update_coverage_status('a1a1a1a1-0000-4000-8000-000000000001', '73301', 5, -1, 1)
$$, '22023');
SELECT * FROM pg_temp.fails_with('emails_found > businesses_found', $$
    SELECT update_coverage_status('a1a1a1a1-0000-4000-8000-000000000001', '73301', 5, 6, 1)
$$, '22023');
SELECT * FROM pg_temp.fails_with('negative cost', $$
    SELECT update_coverage_status('a1a1a1a1-0000-4000-8000-000000000001', '73301', 5, 1, -0.01)
$$, '22023');
SELECT * FROM pg_temp.fails_with('NaN cost', $$
    SELECT update_coverage_status('a1a1a1a1-0000-4000-8000-000000000001', '73301', 5, 1, 'NaN')
$$, '22023');
SELECT * FROM pg_temp.fails_with('Infinity cost', $$
    SELECT update_coverage_status('a1a1a1a1-0000-4000-8000-000000000001', '73301', 5, 1, 'Infinity')
$$, '22023');
SELECT * FROM pg_temp.fails_with('unknown status', $$
    SELECT update_coverage_status('a1a1a1a1-0000-4000-8000-000000000001', '73301', 5, 1, 1,
                                  p_status => 'done')
$$, '23514');
SELECT * FROM pg_temp.fails_with('unknown ZIP of a known campaign', $$
    SELECT update_coverage_status('a1a1a1a1-0000-4000-8000-000000000001', '99999', 5, 1, 1)
$$, 'P0002');
SELECT * FROM pg_temp.fails_with('a ZIP of another campaign', $$
    SELECT update_coverage_status('a1a1a1a1-0000-4000-8000-000000000001', '10001', 5, 1, 1)
$$, 'P0002');
SELECT * FROM pg_temp.fails_with('unknown campaign', $$
    SELECT update_coverage_status('eeeeeeee-0000-4000-8000-00000000000e', '73301', 5, 1, 1)
$$, 'P0002');
SELECT * FROM pg_temp.fails_with('NULL campaign', $$
    SELECT update_coverage_status(NULL, '73301', 5, 1, 1)
$$, '23502');
SELECT * FROM pg_temp.fails_with('NULL ZIP', $$
    SELECT update_coverage_status('a1a1a1a1-0000-4000-8000-000000000001', NULL, 5, 1, 1)
$$, '23502');
SELECT * FROM pg_temp.fails_with('blank ZIP', $$
    SELECT update_coverage_status('a1a1a1a1-0000-4000-8000-000000000001', '  ', 5, 1, 1)
$$, '23502');
SELECT * FROM pg_temp.fails_with('NULL businesses_found', $$
    SELECT update_coverage_status('a1a1a1a1-0000-4000-8000-000000000001', '73301', NULL, 1, 1)
$$, '23502');
SELECT * FROM pg_temp.fails_with('NULL emails_found', $$
    SELECT update_coverage_status('a1a1a1a1-0000-4000-8000-000000000001', '73301', 5, NULL, 1)
$$, '23502');

-- ===========================================================================================
-- Workspace binding (campaigndb.workspace_id)
-- ===========================================================================================
SET LOCAL campaigndb.workspace_id = 'bbbbbbbb-0000-4000-8000-000000000002';
SELECT * FROM pg_temp.fails_with('bound to workspace B, a ZIP of campaign A1', $$
    SELECT update_coverage_status('a1a1a1a1-0000-4000-8000-000000000001', '73301', 30, 12, 3)
$$, '42501');
CALL pg_temp.call('bound to workspace B, a ZIP of campaign B1', $$
    SELECT update_coverage_status('b1b1b1b1-0000-4000-8000-000000000001', '20001', 7, 2, 0.5)
$$);
SELECT is(pg_temp.envelope_shape(pg_temp.envelope('bound to workspace B, a ZIP of campaign B1')),
          pg_temp.success_shape(), 'bound to workspace B: a ZIP of campaign B1 is recorded');

SET LOCAL campaigndb.workspace_id = 'not-a-uuid';
SELECT * FROM pg_temp.fails_with('garbage campaigndb.workspace_id', $$
    SELECT update_coverage_status('a1a1a1a1-0000-4000-8000-000000000001', '73301', 30, 12, 3)
$$, '22023');
RESET campaigndb.workspace_id;

-- ===========================================================================================
-- A parameter that cannot be cast raises before the function runs (no envelope possible)
-- ===========================================================================================
SELECT throws_ok($$SELECT update_coverage_status(
                       p_campaign_id => 'a1a1a1a1-0000-4000-8000-000000000001',
                       p_zip_code => '73301', p_businesses_found => 'many',
                       p_emails_found => 1, p_actual_cost => 1)$$,
                 '22P02', NULL,
                 'p_businesses_found => ''many'' raises 22P02 (cast failure before the call)');

-- Issue 14: costs are micro-dollars, numeric(18,6) (docs/limits.md)
RESET campaigndb.workspace_id;
SELECT * FROM pg_temp.fails_with('actual cost of 1e-16383', $$
    SELECT update_coverage_status('a1a1a1a1-0000-4000-8000-000000000001', '73301', 1, 0, 1e-16383)
$$, '22023');
SELECT * FROM pg_temp.fails_with('actual cost of 1e12', $$
    SELECT update_coverage_status('a1a1a1a1-0000-4000-8000-000000000001', '73301', 1, 0, 1e12)
$$, '22003');

SELECT * FROM finish();
ROLLBACK;
