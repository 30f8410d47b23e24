-- update_campaign_statistics(p_campaign_id uuid) -> jsonb
-- docs/contract.md section 3: recomputes total_businesses, total_emails, total_facebook_pages and
-- total_linkedin_profiles from the rows (never increments), under a lock on the campaign row;
-- returns the four totals.
-- Runs in one transaction that is rolled back.
BEGIN;
SELECT plan(43);

-- Shared test helpers (pg_temp functions, gone with the session)
\ir lib/helpers.psql

-- recount(campaign): the four totals counted from gmaps_businesses, as the function's fields
CREATE FUNCTION pg_temp.recount(p_campaign_id uuid)
RETURNS jsonb
LANGUAGE sql
AS $$
    SELECT jsonb_build_object(
        'total_businesses', count(*),
        'total_emails', count(*) FILTER (WHERE COALESCE(b.email, '') <> ''),
        'total_facebook_pages', count(*) FILTER (WHERE COALESCE(b.facebook_url, '') <> ''),
        'total_linkedin_profiles', count(*) FILTER (WHERE COALESCE(b.linkedin_url, '') <> ''))
      FROM campaigndb.gmaps_businesses AS b
     WHERE b.campaign_id = p_campaign_id
$$;

-- stored(campaign): the four totals as campaigndb.campaigns holds them
CREATE FUNCTION pg_temp.stored(p_campaign_id uuid)
RETURNS jsonb
LANGUAGE sql
AS $$
    SELECT jsonb_build_object(
        'total_businesses', c.total_businesses, 'total_emails', c.total_emails,
        'total_facebook_pages', c.total_facebook_pages,
        'total_linkedin_profiles', c.total_linkedin_profiles)
      FROM campaigndb.campaigns AS c
     WHERE c.id = p_campaign_id
$$;

-- ===========================================================================================
-- Definition: signature, return type, volatility, SECURITY DEFINER, pinned search_path
-- ===========================================================================================
SELECT * FROM pg_temp.definition('update_campaign_statistics', ARRAY['uuid'], 'jsonb', 'volatile');
SELECT ok(EXISTS (SELECT 1 FROM unnest((SELECT p.proconfig FROM pg_catalog.pg_proc AS p
                                        WHERE p.oid = 'public.update_campaign_statistics(uuid)'::regprocedure)) AS c
                   WHERE c ~ '^search_path="?pg_catalog"?(\s*,\s*[^,]+)*\s*,\s*"?pg_temp"?$'),
          'update_campaign_statistics pins search_path to pg_catalog, ..., pg_temp');

-- ===========================================================================================
-- Privileges: campaigndb_app may EXECUTE; PUBLIC and campaigndb_readonly may not
-- ===========================================================================================
SELECT * FROM pg_temp.execute_privileges('update_campaign_statistics', ARRAY['uuid'], false);

-- ===========================================================================================
-- Setup: workspace A with campaigns A1 and A2, workspace B with campaign B1
-- A1: 5 businesses, 3 non-empty e-mails, 2 Facebook pages, 1 LinkedIn profile (and empty
-- strings, which do not count); A2: 2 businesses, all with e-mails; B1: none.
-- ===========================================================================================
\ir lib/workspaces.psql
\ir lib/campaigns.psql
SELECT is(insert_businesses_batch('a1a1a1a1-0000-4000-8000-000000000001', '73301',
              '[{"place_id": "p1", "name": "One", "email": "one@example.com",
                 "facebook_url": "https://facebook.com/one",
                 "linkedin_url": "https://linkedin.com/company/one"},
                {"place_id": "p2", "name": "Two", "email": "two@example.com",
                 "facebook_url": "https://facebook.com/two", "linkedin_url": ""},
                {"place_id": "p3", "name": "Three", "email": ""},
                {"place_id": "p4", "name": "Four", "email": "four@example.com"},
                {"place_id": "p5", "name": "Five", "facebook_url": ""}]') -> 'inserted',
          '5'::jsonb, 'setup: five businesses in campaign A1');
SELECT is(insert_businesses_batch('a2a2a2a2-0000-4000-8000-000000000002', '10001',
              '[{"place_id": "q1", "name": "Q One", "email": "q1@example.com"},
                {"place_id": "q2", "name": "Q Two", "email": "q2@example.com"}]') -> 'inserted',
          '2'::jsonb, 'setup: two businesses in campaign A2');

DO $do$
BEGIN
    SET LOCAL ROLE campaigndb_app;
    PERFORM set_config('campaigndb_test.as_app', update_campaign_statistics(
        'b1b1b1b1-0000-4000-8000-000000000001')::text, true);
    RESET ROLE;
END
$do$;
SELECT is(current_setting('campaigndb_test.as_app')::jsonb,
          '{"success": true, "error": null, "error_code": null, "retry_recommended": false,
            "total_businesses": 0, "total_emails": 0, "total_facebook_pages": 0,
            "total_linkedin_profiles": 0}'::jsonb,
          'campaigndb_app, which holds no table privilege, recounts campaign B1 (no businesses: zeros)');

SELECT throws_ok(
    $$DO $do$ BEGIN
          SET LOCAL ROLE campaigndb_readonly;
          PERFORM update_campaign_statistics('b1b1b1b1-0000-4000-8000-000000000001');
      END $do$
    $$,
    '42501', NULL,
    'campaigndb_readonly is refused EXECUTE on update_campaign_statistics (42501)');

-- ===========================================================================================
-- Happy path: the totals of campaign A1
-- ===========================================================================================
SELECT is(pg_temp.stored('a1a1a1a1-0000-4000-8000-000000000001'),
          '{"total_businesses": 0, "total_emails": 0, "total_facebook_pages": 0,
            "total_linkedin_profiles": 0}'::jsonb,
          'before: campaign A1''s stored totals are still 0');

CALL pg_temp.call('recount A1',
    $$SELECT update_campaign_statistics(p_campaign_id => 'a1a1a1a1-0000-4000-8000-000000000001')$$);

SELECT is(pg_temp.envelope('recount A1'),
          '{"success": true, "error": null, "error_code": null, "retry_recommended": false,
            "total_businesses": 5, "total_emails": 3, "total_facebook_pages": 2,
            "total_linkedin_profiles": 1}'::jsonb,
          'recount A1: 5 businesses, 3 e-mails, 2 Facebook pages, 1 LinkedIn profile '
          '(empty strings not counted)');
SELECT is(pg_temp.envelope('recount A1') - ARRAY['success', 'error', 'error_code', 'retry_recommended'],
          pg_temp.recount('a1a1a1a1-0000-4000-8000-000000000001'),
          'recount A1: the returned totals equal a recount of the rows');
SELECT is(pg_temp.stored('a1a1a1a1-0000-4000-8000-000000000001'),
          pg_temp.recount('a1a1a1a1-0000-4000-8000-000000000001'),
          'recount A1: the totals are written to campaigndb.campaigns');
SELECT is(pg_temp.rows_added('recount A1'), '{}'::jsonb, 'recount A1: no row added');
SELECT is(ARRAY(SELECT jsonb_object_keys(pg_temp.changes('recount A1'))), ARRAY['campaigns'],
          'recount A1: only campaigndb.campaigns changed');
SELECT is(pg_temp.stored('a2a2a2a2-0000-4000-8000-000000000002'),
          '{"total_businesses": 0, "total_emails": 0, "total_facebook_pages": 0,
            "total_linkedin_profiles": 0}'::jsonb,
          'recount A1: campaign A2''s totals are left alone');

-- ===========================================================================================
-- Never increments: a repeat gives the same totals; tampered totals are corrected
-- ===========================================================================================
CALL pg_temp.call('recount A1 again',
    $$SELECT update_campaign_statistics('a1a1a1a1-0000-4000-8000-000000000001')$$);
SELECT is(pg_temp.envelope('recount A1 again'), pg_temp.envelope('recount A1'),
          'recount A1 again: the same totals (recomputed, not incremented)');
SELECT is(pg_temp.stored('a1a1a1a1-0000-4000-8000-000000000001'),
          pg_temp.recount('a1a1a1a1-0000-4000-8000-000000000001'),
          'recount A1 again: the stored totals still equal a recount');

UPDATE campaigndb.campaigns
   SET total_businesses = 999, total_emails = 998, total_facebook_pages = 997,
       total_linkedin_profiles = 996
 WHERE id = 'a1a1a1a1-0000-4000-8000-000000000001';
CALL pg_temp.call('recount after tampering',
    $$SELECT update_campaign_statistics('a1a1a1a1-0000-4000-8000-000000000001')$$);
SELECT is(pg_temp.stored('a1a1a1a1-0000-4000-8000-000000000001'),
          '{"total_businesses": 5, "total_emails": 3, "total_facebook_pages": 2,
            "total_linkedin_profiles": 1}'::jsonb,
          'recount after tampering: wrong stored totals are replaced by the recount');

-- new rows, an enrichment and a removed e-mail are reflected by the next recount
SELECT is(insert_businesses_batch('a1a1a1a1-0000-4000-8000-000000000001', '73301',
              '[{"place_id": "p6", "name": "Six", "email": "six@example.com",
                 "linkedin_url": "https://linkedin.com/company/six"},
                {"place_id": "p3", "name": "Three", "facebook_url": "https://facebook.com/three"}]')
          - ARRAY['success', 'error', 'error_code', 'retry_recommended'],
          '{"inserted": 1, "updated": 1, "skipped": 0}'::jsonb,
          'setup: one more business and a Facebook page for p3 in campaign A1');
CALL pg_temp.call('recount after inserts',
    $$SELECT update_campaign_statistics('a1a1a1a1-0000-4000-8000-000000000001')$$);
SELECT is(pg_temp.envelope('recount after inserts'),
          '{"success": true, "error": null, "error_code": null, "retry_recommended": false,
            "total_businesses": 6, "total_emails": 4, "total_facebook_pages": 3,
            "total_linkedin_profiles": 2}'::jsonb,
          'recount after inserts: 6 businesses, 4 e-mails, 3 Facebook pages, 2 LinkedIn profiles');
SELECT is(pg_temp.stored('a1a1a1a1-0000-4000-8000-000000000001'),
          pg_temp.recount('a1a1a1a1-0000-4000-8000-000000000001'),
          'recount after inserts: the stored totals equal a recount');

CALL pg_temp.call('recount A2',
    $$SELECT update_campaign_statistics('a2a2a2a2-0000-4000-8000-000000000002')$$);
SELECT is(pg_temp.stored('a2a2a2a2-0000-4000-8000-000000000002'),
          '{"total_businesses": 2, "total_emails": 2, "total_facebook_pages": 0,
            "total_linkedin_profiles": 0}'::jsonb,
          'recount A2: its own businesses only');

-- ===========================================================================================
-- Documented errors: 23502, P0002
-- ===========================================================================================
SELECT * FROM pg_temp.fails_with('unknown campaign',
    $$SELECT update_campaign_statistics('eeeeeeee-0000-4000-8000-00000000000e')$$, 'P0002');
SELECT * FROM pg_temp.fails_with('NULL campaign',
    $$SELECT update_campaign_statistics(NULL)$$, '23502');

-- ===========================================================================================
-- Workspace binding (campaigndb.workspace_id); A1's stored totals are made stale first, so
-- that a refused recount would show
-- ===========================================================================================
UPDATE campaigndb.campaigns SET total_businesses = 0
 WHERE id = 'a1a1a1a1-0000-4000-8000-000000000001';
SET LOCAL campaigndb.workspace_id = 'bbbbbbbb-0000-4000-8000-000000000002';
SELECT * FROM pg_temp.fails_with('bound to workspace B, recount of campaign A1',
    $$SELECT update_campaign_statistics('a1a1a1a1-0000-4000-8000-000000000001')$$, '42501');
CALL pg_temp.call('bound to workspace B, recount of campaign B1',
    $$SELECT update_campaign_statistics('b1b1b1b1-0000-4000-8000-000000000001')$$);
SELECT is(pg_temp.envelope_shape(pg_temp.envelope('bound to workspace B, recount of campaign B1')),
          pg_temp.success_shape(), 'bound to workspace B: campaign B1 is recounted');

SET LOCAL campaigndb.workspace_id = 'not-a-uuid';
SELECT * FROM pg_temp.fails_with('garbage campaigndb.workspace_id',
    $$SELECT update_campaign_statistics('a1a1a1a1-0000-4000-8000-000000000001')$$, '22023');
RESET campaigndb.workspace_id;

-- ===========================================================================================
-- A parameter that cannot be cast raises before the function runs (no envelope possible)
-- ===========================================================================================
SELECT throws_ok($$SELECT update_campaign_statistics(p_campaign_id => 'nope')$$,
                 '22P02', NULL,
                 'p_campaign_id => ''nope'' raises 22P02 (cast failure before the call)');

-- ===========================================================================================
-- At the end, after a recount of each: every campaign's totals equal a recount
-- ===========================================================================================
SELECT is(ARRAY(SELECT c.name FROM campaigndb.campaigns AS c
                 WHERE NOT (update_campaign_statistics(c.id) ->> 'success')::boolean
                 ORDER BY 1),
          ARRAY[]::text[], 'every campaign is recounted successfully');
SELECT is(ARRAY(SELECT c.name FROM campaigndb.campaigns AS c
                 WHERE pg_temp.stored(c.id) <> pg_temp.recount(c.id)
                 ORDER BY 1),
          ARRAY[]::text[],
          'after a recount of each campaign, every campaign''s totals equal a recount of its rows');

SELECT * FROM finish();
ROLLBACK;
