-- get_businesses_for_enrichment(p_campaign_id uuid, p_enrichment_type varchar, p_limit integer,
--                               p_offset integer, p_after_id uuid DEFAULT NULL)
--   -> TABLE of business rows
-- docs/contract.md section 3: the businesses of the campaign that still need that enrichment
-- (facebook, linkedin or email), in a stable order (business id) so that pages do not
-- overlap or skip; p_limit 1..1000, p_offset >= 0, p_after_id continues after that id
-- (keyset).  A set-returning function has no envelope: errors are raised (23502, 22023,
-- P0002, 42501).  Served by the partial indexes gmaps_businesses_<type>_todo_idx.
-- Runs in one transaction that is rolled back.
BEGIN;
SELECT plan(62);

-- Shared test helpers (pg_temp functions, gone with the session)
\ir lib/helpers.psql

-- page(campaign, type, limit, offset, after): the ids of one page, in the order returned
CREATE FUNCTION pg_temp.page(p_campaign_id uuid, p_type text, p_limit int, p_offset int,
                             p_after_id uuid DEFAULT NULL)
RETURNS uuid[]
LANGUAGE sql
AS $$
    SELECT COALESCE(array_agg(r.id ORDER BY r.ordinality), '{}')
      FROM get_businesses_for_enrichment(p_campaign_id, p_type, p_limit, p_offset, p_after_id)
           WITH ORDINALITY AS r
$$;

-- ids_except(campaign, place_ids to leave out): the ids of the campaign's other businesses,
-- in id order (what a page should hold, computed without the function's predicate)
CREATE FUNCTION pg_temp.ids_except(p_campaign_id uuid, p_place_ids text[])
RETURNS uuid[]
LANGUAGE sql
AS $$
    SELECT COALESCE(array_agg(b.id ORDER BY b.id), '{}')
      FROM campaigndb.gmaps_businesses AS b
     WHERE b.campaign_id = p_campaign_id AND b.place_id <> ALL (p_place_ids)
$$;

-- keyset_walk(campaign, type, limit): every id, page after page with p_after_id
CREATE FUNCTION pg_temp.keyset_walk(p_campaign_id uuid, p_type text, p_limit int)
RETURNS uuid[]
LANGUAGE plpgsql
AS $$
DECLARE
    v_all   uuid[] := '{}';
    v_page  uuid[];
BEGIN
    LOOP
        v_page := pg_temp.page(p_campaign_id, p_type, p_limit, 0, v_all[cardinality(v_all)]);
        EXIT WHEN cardinality(v_page) = 0;
        v_all := v_all || v_page;
    END LOOP;
    RETURN v_all;
END
$$;

-- plan_of(sql): the text of EXPLAIN sql
CREATE FUNCTION pg_temp.plan_of(p_sql text)
RETURNS text
LANGUAGE plpgsql
AS $$
DECLARE
    v_line  text;
    v_plan  text := '';
BEGIN
    FOR v_line IN EXECUTE 'EXPLAIN ' || p_sql LOOP
        v_plan := v_plan || v_line || E'\n';
    END LOOP;
    RETURN v_plan;
END
$$;

-- ===========================================================================================
-- Definition: signature, return type, volatility, SECURITY DEFINER, pinned search_path
-- ===========================================================================================
SELECT has_function('public', 'get_businesses_for_enrichment',
                    ARRAY['uuid', 'character varying', 'integer', 'integer', 'uuid'],
                    'public.get_businesses_for_enrichment(uuid, varchar, integer, integer, uuid) exists');
SELECT function_returns('public', 'get_businesses_for_enrichment',
                        ARRAY['uuid', 'character varying', 'integer', 'integer', 'uuid'],
                        'setof record', 'get_businesses_for_enrichment returns a set (TABLE)');
SELECT ok((SELECT a[1] = 'id'
                  AND a @> ARRAY['id', 'campaign_id', 'zip_code', 'place_id', 'name', 'email',
                                 'facebook_url', 'linkedin_url', 'email_verification_status']
             FROM (SELECT array_agg(x.n ORDER BY x.ord) AS a
                     FROM pg_catalog.pg_proc AS p,
                          unnest(p.proargnames, p.proargmodes::text[]) WITH ORDINALITY AS x(n, m, ord)
                    WHERE p.oid = 'public.get_businesses_for_enrichment(uuid, varchar, integer, integer, uuid)'::regprocedure
                      AND x.m = 't') AS t),
          'get_businesses_for_enrichment returns business rows: id first, and campaign_id, '
          'zip_code, place_id, name, email, facebook_url, linkedin_url, email_verification_status');
SELECT volatility_is('public', 'get_businesses_for_enrichment',
                     ARRAY['uuid', 'character varying', 'integer', 'integer', 'uuid'],
                     'stable', 'get_businesses_for_enrichment is STABLE');
SELECT is_definer('public', 'get_businesses_for_enrichment',
                  ARRAY['uuid', 'character varying', 'integer', 'integer', 'uuid'],
                  'get_businesses_for_enrichment is SECURITY DEFINER');
SELECT ok(EXISTS (SELECT 1 FROM unnest((SELECT p.proconfig FROM pg_catalog.pg_proc AS p
                                        WHERE p.oid = 'public.get_businesses_for_enrichment(uuid, varchar, integer, integer, uuid)'::regprocedure)) AS c
                   WHERE c ~ '^search_path="?pg_catalog"?(\s*,\s*[^,]+)*\s*,\s*"?pg_temp"?$'),
          'get_businesses_for_enrichment pins search_path to pg_catalog, ..., pg_temp');

-- ===========================================================================================
-- Privileges: campaigndb_app and campaigndb_readonly may EXECUTE (a read function); PUBLIC not
-- ===========================================================================================
SELECT * FROM pg_temp.execute_privileges(
    'get_businesses_for_enrichment', ARRAY['uuid', 'character varying', 'integer', 'integer', 'uuid'], true);

-- ===========================================================================================
-- Setup: workspace A with campaigns A1 (ten businesses p01..p10, p01..p06 with an e-mail)
-- and A2 (none), workspace B with campaign B1 (q1, q2)
-- ===========================================================================================
\ir lib/workspaces.psql
\ir lib/campaigns.psql
SELECT is(insert_businesses_batch('a1a1a1a1-0000-4000-8000-000000000001', '73301',
              (SELECT jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
                          'place_id', 'p' || lpad(g::text, 2, '0'), 'name', 'Business ' || g,
                          'city', 'Austin', 'phone', '+1 512 555 01' || lpad(g::text, 2, '0'),
                          'email', CASE WHEN g <= 6 THEN 'info' || g || '@example.com' END)))
                 FROM generate_series(1, 10) AS g)) -> 'inserted',
          '10'::jsonb, 'setup: ten businesses in campaign A1');
SELECT is(insert_businesses_batch('b1b1b1b1-0000-4000-8000-000000000001', '20001',
              '[{"place_id": "q1", "name": "Q One", "email": "q1@example.com"},
                {"place_id": "q2", "name": "Q Two"}]') -> 'inserted',
          '2'::jsonb, 'setup: two businesses in campaign B1');

DO $do$
BEGIN
    SET LOCAL ROLE campaigndb_readonly;
    PERFORM set_config('campaigndb_test.as_readonly', (SELECT count(*) FROM get_businesses_for_enrichment(
        'a1a1a1a1-0000-4000-8000-000000000001', 'facebook', 100, 0))::text, true);
    SET LOCAL ROLE campaigndb_app;
    PERFORM set_config('campaigndb_test.as_app', (SELECT count(*) FROM get_businesses_for_enrichment(
        'a1a1a1a1-0000-4000-8000-000000000001', 'linkedin', 100, 0))::text, true);
    RESET ROLE;
END
$do$;
SELECT is(current_setting('campaigndb_test.as_readonly'), '10',
          'campaigndb_readonly, which holds no table privilege, reads a page through the function');
SELECT is(current_setting('campaigndb_test.as_app'), '10',
          'campaigndb_app, which holds no table privilege, reads a page through the function');

-- ===========================================================================================
-- Happy path: every business still needs everything; id order; the rows' fields
-- ===========================================================================================
SELECT results_eq(
    $$SELECT id FROM get_businesses_for_enrichment(p_campaign_id => 'a1a1a1a1-0000-4000-8000-000000000001',
                                                   p_enrichment_type => 'facebook',
                                                   p_limit => 1000, p_offset => 0)$$,
    $$SELECT b.id FROM campaigndb.gmaps_businesses AS b
       WHERE b.campaign_id = 'a1a1a1a1-0000-4000-8000-000000000001' ORDER BY b.id$$,
    'facebook, nothing enriched yet: all ten businesses of A1 (none of B1), in id order');
SELECT is(pg_temp.page('a1a1a1a1-0000-4000-8000-000000000001', 'email', 1000, 0),
          pg_temp.ids_except('a1a1a1a1-0000-4000-8000-000000000001', ARRAY['p07', 'p08', 'p09', 'p10']),
          'email, nothing verified yet: the six businesses with an e-mail, in id order');
SELECT is((SELECT to_jsonb(r) FROM get_businesses_for_enrichment(
                      'a1a1a1a1-0000-4000-8000-000000000001', 'facebook', 1000, 0) AS r
            WHERE r.place_id = 'p03'),
          (SELECT jsonb_object_agg(k.key, to_jsonb(b) -> k.key)
             FROM campaigndb.gmaps_businesses AS b,
                  jsonb_object_keys((SELECT to_jsonb(r) FROM get_businesses_for_enrichment(
                                        'a1a1a1a1-0000-4000-8000-000000000001', 'facebook', 1, 0) AS r)) AS k(key)
            WHERE b.campaign_id = 'a1a1a1a1-0000-4000-8000-000000000001' AND b.place_id = 'p03'),
          'a returned row holds the business''s stored values');
SELECT is_empty($$SELECT * FROM get_businesses_for_enrichment('a2a2a2a2-0000-4000-8000-000000000002',
                                                             'facebook', 1000, 0)$$,
                'a campaign without businesses: no rows');

-- ===========================================================================================
-- Only the businesses still needing the type: enrich some, verify one
-- ===========================================================================================
SELECT is(update_enrichment_batch('facebook',
              (SELECT jsonb_agg(jsonb_build_object(
                          'business_id', pg_temp.business_id('a1a1a1a1-0000-4000-8000-000000000001', p),
                          'url', 'https://facebook.com/' || p))
                 FROM unnest(ARRAY['p02', 'p05', 'p07']) AS p)) -> 'updated',
          '3'::jsonb, 'setup: Facebook enrichment of p02, p05, p07');
SELECT is(update_enrichment_batch('linkedin',
              (SELECT jsonb_agg(jsonb_build_object(
                          'business_id', pg_temp.business_id('a1a1a1a1-0000-4000-8000-000000000001', p),
                          'url', NULL))
                 FROM unnest(ARRAY['p01', 'p02']) AS p)) -> 'updated',
          '2'::jsonb, 'setup: LinkedIn enrichment of p01, p02 (nothing found: url null)');
SELECT is(update_email_verification(pg_temp.business_id('a1a1a1a1-0000-4000-8000-000000000001', 'p03'),
                                    NULL, '{"status": "valid"}') ->> 'verification_status',
          'valid', 'setup: e-mail of p03 verified');

SELECT is(pg_temp.page('a1a1a1a1-0000-4000-8000-000000000001', 'facebook', 1000, 0),
          pg_temp.ids_except('a1a1a1a1-0000-4000-8000-000000000001', ARRAY['p02', 'p05', 'p07']),
          'facebook: the seven businesses not enriched for Facebook, in id order');
SELECT is(pg_temp.page('a1a1a1a1-0000-4000-8000-000000000001', 'linkedin', 1000, 0),
          pg_temp.ids_except('a1a1a1a1-0000-4000-8000-000000000001', ARRAY['p01', 'p02']),
          'linkedin: the eight businesses not enriched for LinkedIn (searched with no result '
          'counts as enriched), in id order');
SELECT is(pg_temp.page('a1a1a1a1-0000-4000-8000-000000000001', 'email', 1000, 0),
          pg_temp.ids_except('a1a1a1a1-0000-4000-8000-000000000001',
                             ARRAY['p03', 'p07', 'p08', 'p09', 'p10']),
          'email: the five businesses with an unverified e-mail, in id order');

-- ===========================================================================================
-- Paging with p_limit / p_offset: pages of 3 over the seven Facebook ones
-- ===========================================================================================
CREATE TEMP TABLE pages (name text PRIMARY KEY, ids uuid[]);
INSERT INTO pages VALUES
    ('all', pg_temp.page('a1a1a1a1-0000-4000-8000-000000000001', 'facebook', 1000, 0)),
    ('1', pg_temp.page('a1a1a1a1-0000-4000-8000-000000000001', 'facebook', 3, 0)),
    ('2', pg_temp.page('a1a1a1a1-0000-4000-8000-000000000001', 'facebook', 3, 3)),
    ('3', pg_temp.page('a1a1a1a1-0000-4000-8000-000000000001', 'facebook', 3, 6)),
    ('4', pg_temp.page('a1a1a1a1-0000-4000-8000-000000000001', 'facebook', 3, 9));

SELECT is(ARRAY(SELECT cardinality(p.ids) FROM pages AS p WHERE p.name <> 'all' ORDER BY p.name),
          ARRAY[3, 3, 1, 0], 'limit/offset: pages of 3, 3, 1 and 0 rows');
SELECT is((SELECT ids FROM pages WHERE name = '1') || (SELECT ids FROM pages WHERE name = '2')
              || (SELECT ids FROM pages WHERE name = '3'),
          (SELECT ids FROM pages WHERE name = 'all'),
          'limit/offset: the pages put together are the whole list, in order (no overlap, no skip)');
SELECT is((SELECT count(*)::int FROM pages AS x, pages AS y, unnest(x.ids) AS i
            WHERE x.name IN ('1', '2', '3') AND y.name IN ('1', '2', '3') AND x.name < y.name
              AND i = ANY (y.ids)),
          0, 'limit/offset: no id is on two pages');
SELECT is(cardinality(pg_temp.page('a1a1a1a1-0000-4000-8000-000000000001', 'facebook', 1, 0)), 1,
          'p_limit 1 returns one row');

-- ===========================================================================================
-- Keyset paging with p_after_id
-- ===========================================================================================
SELECT is(pg_temp.page('a1a1a1a1-0000-4000-8000-000000000001', 'facebook', 3, 0,
                       (SELECT ids[3] FROM pages WHERE name = '1')),
          (SELECT ids FROM pages WHERE name = '2'),
          'keyset: p_after_id = the last id of page 1 gives page 2');
SELECT is(pg_temp.keyset_walk('a1a1a1a1-0000-4000-8000-000000000001', 'facebook', 2),
          (SELECT ids FROM pages WHERE name = 'all'),
          'keyset: walking pages of 2 with p_after_id gives the whole list once, in order');
SELECT is(pg_temp.page('a1a1a1a1-0000-4000-8000-000000000001', 'facebook', 3, 0,
                       (SELECT ids[7] FROM pages WHERE name = 'all')),
          '{}'::uuid[], 'keyset: after the last id, no rows');

-- enrich page 1's businesses (they leave the list): the keyset page after page 1 is unchanged
SELECT is(update_enrichment_batch('facebook',
              (SELECT jsonb_agg(jsonb_build_object('business_id', i))
                 FROM pages, unnest(ids) AS i WHERE name = '1')) -> 'updated',
          '3'::jsonb, 'setup: page 1''s businesses are enriched for Facebook');
SELECT is(pg_temp.page('a1a1a1a1-0000-4000-8000-000000000001', 'facebook', 3, 0,
                       (SELECT ids[3] FROM pages WHERE name = '1')),
          (SELECT ids FROM pages WHERE name = '2'),
          'keyset: after rows of earlier pages were enriched, p_after_id still gives page 2 '
          '(nothing skipped)');
SELECT is(pg_temp.page('a1a1a1a1-0000-4000-8000-000000000001', 'facebook', 1000, 0),
          (SELECT ids[4:] FROM pages WHERE name = 'all'),
          'the enriched rows are no longer listed');

-- ===========================================================================================
-- Errors are raised (no envelope): 22023, 23502, P0002, 42501
-- ===========================================================================================
SELECT throws_ok($$SELECT * FROM get_businesses_for_enrichment('a1a1a1a1-0000-4000-8000-000000000001', 'facebook', 0, 0)$$,
                 '22023', NULL, 'p_limit 0 raises 22023');
SELECT throws_ok($$SELECT * FROM get_businesses_for_enrichment('a1a1a1a1-0000-4000-8000-000000000001', 'facebook', 1001, 0)$$,
                 '22023', NULL, 'p_limit 1001 raises 22023');
SELECT lives_ok($$SELECT * FROM get_businesses_for_enrichment('a1a1a1a1-0000-4000-8000-000000000001', 'facebook', 1000, 0)$$,
                'p_limit 1000 is accepted');
SELECT throws_ok($$SELECT * FROM get_businesses_for_enrichment('a1a1a1a1-0000-4000-8000-000000000001', 'facebook', NULL, 0)$$,
                 '22023', NULL, 'p_limit NULL raises 22023');
SELECT throws_ok($$SELECT * FROM get_businesses_for_enrichment('a1a1a1a1-0000-4000-8000-000000000001', 'facebook', 10, -1)$$,
                 '22023', NULL, 'p_offset -1 raises 22023');
SELECT throws_ok($$SELECT * FROM get_businesses_for_enrichment('a1a1a1a1-0000-4000-8000-000000000001', 'facebook', 10, NULL)$$,
                 '22023', NULL, 'p_offset NULL raises 22023');
SELECT throws_ok($$SELECT * FROM get_businesses_for_enrichment('a1a1a1a1-0000-4000-8000-000000000001', 'twitter', 10, 0)$$,
                 '22023', NULL, 'unknown type twitter raises 22023');
SELECT throws_ok($$SELECT * FROM get_businesses_for_enrichment('a1a1a1a1-0000-4000-8000-000000000001', NULL, 10, 0)$$,
                 '22023', NULL, 'type NULL raises 22023');
SELECT throws_ok($$SELECT * FROM get_businesses_for_enrichment(NULL, 'facebook', 10, 0)$$,
                 '23502', NULL, 'p_campaign_id NULL raises 23502');
SELECT throws_ok($$SELECT * FROM get_businesses_for_enrichment('eeeeeeee-0000-4000-8000-00000000000e', 'facebook', 10, 0)$$,
                 'P0002', NULL, 'unknown campaign raises P0002');

-- ===========================================================================================
-- Workspace binding (campaigndb.workspace_id)
-- ===========================================================================================
SET LOCAL campaigndb.workspace_id = 'bbbbbbbb-0000-4000-8000-000000000002';
SELECT throws_ok($$SELECT * FROM get_businesses_for_enrichment('a1a1a1a1-0000-4000-8000-000000000001', 'facebook', 10, 0)$$,
                 '42501', NULL, 'bound to workspace B: reading campaign A1 raises 42501');
SELECT is(pg_temp.page('b1b1b1b1-0000-4000-8000-000000000001', 'facebook', 10, 0),
          pg_temp.ids_except('b1b1b1b1-0000-4000-8000-000000000001', '{}'),
          'bound to workspace B: campaign B1 is read');
SET LOCAL campaigndb.workspace_id = 'not-a-uuid';
SELECT throws_ok($$SELECT * FROM get_businesses_for_enrichment('a1a1a1a1-0000-4000-8000-000000000001', 'facebook', 10, 0)$$,
                 '22023', NULL, 'garbage campaigndb.workspace_id raises 22023');
RESET campaigndb.workspace_id;

-- ===========================================================================================
-- The query is served by the partial indexes.  Campaign A3 gets 2,000 businesses (with
-- e-mails) and A2 2,000 others, then ANALYZE; the SELECT the function runs for each type
-- (campaign_id = $1 AND id > $2 AND <still to do> ORDER BY id LIMIT 100) must use
-- gmaps_businesses_<type>_todo_idx.  No planner setting is changed (no enable_seqscan = off):
-- with fresh statistics the partial index is the cheapest plan on its own.
-- ===========================================================================================
SELECT is(pg_temp.envelope_shape(create_campaign_with_coverage(
              '{"id": "a3a3a3a3-0000-4000-8000-000000000003", "name": "Campaign A3",
                "workspace_id": "aaaaaaaa-0000-4000-8000-000000000001"}', '["10003"]')),
          pg_temp.success_shape(), 'setup: campaign A3');
SELECT is(insert_businesses_batch('a3a3a3a3-0000-4000-8000-000000000003', '10003',
              (SELECT jsonb_agg(jsonb_build_object('place_id', 'x' || g, 'name', 'Business ' || g,
                                                   'email', 'x' || g || '@example.com'))
                 FROM generate_series(1, 2000) AS g)) -> 'inserted',
          '2000'::jsonb, 'setup: 2,000 businesses in campaign A3');
SELECT is(insert_businesses_batch('a2a2a2a2-0000-4000-8000-000000000002', '10001',
              (SELECT jsonb_agg(jsonb_build_object('place_id', 'y' || g, 'name', 'Business ' || g,
                                                   'email', 'y' || g || '@example.com'))
                 FROM generate_series(1, 2000) AS g)) -> 'inserted',
          '2000'::jsonb, 'setup: 2,000 businesses in campaign A2');
ANALYZE campaigndb.gmaps_businesses;

SELECT matches(pg_temp.plan_of($$
    SELECT b.id, b.campaign_id, b.zip_code, b.place_id, b.name, b.email, b.facebook_url,
           b.linkedin_url, b.email_verification_status
      FROM campaigndb.gmaps_businesses AS b
     WHERE b.campaign_id = 'a3a3a3a3-0000-4000-8000-000000000003'
       AND b.id > '00000000-0000-0000-0000-000000000000' AND b.facebook_enriched_at IS NULL
     ORDER BY b.id LIMIT 100$$),
    'gmaps_businesses_facebook_todo_idx',
    'facebook: the page query uses gmaps_businesses_facebook_todo_idx');
SELECT matches(pg_temp.plan_of($$
    SELECT b.id, b.campaign_id, b.zip_code, b.place_id, b.name, b.email, b.facebook_url,
           b.linkedin_url, b.email_verification_status
      FROM campaigndb.gmaps_businesses AS b
     WHERE b.campaign_id = 'a3a3a3a3-0000-4000-8000-000000000003'
       AND b.id > '00000000-0000-0000-0000-000000000000' AND b.linkedin_enriched_at IS NULL
     ORDER BY b.id LIMIT 100$$),
    'gmaps_businesses_linkedin_todo_idx',
    'linkedin: the page query uses gmaps_businesses_linkedin_todo_idx');
SELECT matches(pg_temp.plan_of($$
    SELECT b.id, b.campaign_id, b.zip_code, b.place_id, b.name, b.email, b.facebook_url,
           b.linkedin_url, b.email_verification_status
      FROM campaigndb.gmaps_businesses AS b
     WHERE b.campaign_id = 'a3a3a3a3-0000-4000-8000-000000000003'
       AND b.id > '00000000-0000-0000-0000-000000000000'
       AND b.email IS NOT NULL AND b.email_verification_status = 'unverified'
     ORDER BY b.id LIMIT 100$$),
    'gmaps_businesses_email_todo_idx',
    'email: the page query uses gmaps_businesses_email_todo_idx');

-- the generic plan too (what PL/pgSQL may cache for the function's parameterised query)
PREPARE facebook_todo_page(uuid, uuid) AS
    SELECT b.id, b.campaign_id, b.zip_code, b.place_id, b.name, b.email, b.facebook_url,
           b.linkedin_url, b.email_verification_status
      FROM campaigndb.gmaps_businesses AS b
     WHERE b.campaign_id = $1 AND b.id > $2 AND b.facebook_enriched_at IS NULL
     ORDER BY b.id LIMIT 100;
SET LOCAL plan_cache_mode = force_generic_plan;
SELECT matches(pg_temp.plan_of($$EXECUTE facebook_todo_page('a3a3a3a3-0000-4000-8000-000000000003',
                                                            '00000000-0000-0000-0000-000000000000')$$),
               'gmaps_businesses_facebook_todo_idx',
               'facebook, generic plan ($1, $2): uses gmaps_businesses_facebook_todo_idx');
RESET plan_cache_mode;
DEALLOCATE facebook_todo_page;

-- and the function itself pages through all of them
SELECT is(pg_temp.keyset_walk('a3a3a3a3-0000-4000-8000-000000000003', 'facebook', 1000),
          pg_temp.ids_except('a3a3a3a3-0000-4000-8000-000000000003', '{}'),
          'keyset over 2,000 businesses in pages of 1,000: every id once, in id order');

-- ===========================================================================================
-- An empty e-mail is no e-mail: update_campaign_statistics does not count it, so it should
-- not be handed to the e-mail verifier either
-- ===========================================================================================
SELECT is(pg_temp.envelope_shape(create_campaign_with_coverage(
              '{"id": "a4a4a4a4-0000-4000-8000-000000000004", "name": "Campaign A4",
                "workspace_id": "aaaaaaaa-0000-4000-8000-000000000001"}', '["10004"]')),
          pg_temp.success_shape(), 'setup: campaign A4');
SELECT is(insert_businesses_batch('a4a4a4a4-0000-4000-8000-000000000004', '10004',
              '[{"place_id": "with-email", "name": "With", "email": "with@example.com"},
                {"place_id": "empty-email", "name": "Empty", "email": ""},
                {"place_id": "no-email", "name": "Without"}]') -> 'inserted',
          '3'::jsonb, 'setup: campaign A4 with an e-mail, an empty e-mail and none');
SELECT is(pg_temp.page('a4a4a4a4-0000-4000-8000-000000000004', 'email', 10, 0),
          pg_temp.ids_except('a4a4a4a4-0000-4000-8000-000000000004', ARRAY['empty-email', 'no-email']),
          'email: only the business with a non-empty e-mail is listed for verification');

SELECT * FROM finish();
ROLLBACK;
