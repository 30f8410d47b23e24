-- create_campaign_with_coverage(p_campaign_data jsonb, p_zip_codes jsonb) -> jsonb
-- docs/contract.md section 3: returns campaign_id and zip_count; p_campaign_data holds
-- workspace_id and name (required), optional id (the idempotency key) and settings;
-- p_zip_codes is an array of ZIP strings or {zip_code, estimated_cost}; repeats collapse.
-- Runs in one transaction that is rolled back.
BEGIN;
SELECT plan(101);

-- Shared test helpers (pg_temp functions, gone with the session)
\ir lib/helpers.psql

-- austin(), austin_zips(): the campaign of the happy path, sent again by the replay cases
CREATE FUNCTION pg_temp.austin() RETURNS jsonb LANGUAGE sql AS $$
    SELECT '{"id": "cccccccc-0000-4000-8000-000000000001",
           "workspace_id": "aaaaaaaa-0000-4000-8000-000000000001",
           "name": "Dentists in Austin", "status": "active", "search_query": "dentist",
           "location": "Austin, TX", "keywords": ["dentist", "orthodontist"],
           "settings": {"max_results": 100}}'::jsonb
$$;
CREATE FUNCTION pg_temp.austin_zips() RETURNS jsonb LANGUAGE sql AS $$
    SELECT '["73301", " 73301 ", {"zip_code": "73344", "estimated_cost": 1.25}, "73344",
           {"zip_code": "73301", "estimated_cost": 9}, "78701", {"zip_code": "78702"}]'::jsonb
$$;

-- ===========================================================================================
-- Definition: signature, return type, volatility, SECURITY DEFINER, pinned search_path
-- ===========================================================================================
SELECT * FROM pg_temp.definition(
    'create_campaign_with_coverage', ARRAY['jsonb', 'jsonb'], 'jsonb', 'volatile');
SELECT ok(EXISTS (SELECT 1 FROM unnest((SELECT p.proconfig FROM pg_catalog.pg_proc AS p
                                        WHERE p.oid = 'public.create_campaign_with_coverage(jsonb, jsonb)'::regprocedure)) AS c
                   WHERE c ~ '^search_path="?pg_catalog"?(\s*,\s*[^,]+)*\s*,\s*"?pg_temp"?$'),
          'create_campaign_with_coverage pins search_path to pg_catalog, ..., pg_temp');

-- ===========================================================================================
-- Privileges: campaigndb_app may EXECUTE; PUBLIC and campaigndb_readonly may not
-- ===========================================================================================
SELECT * FROM pg_temp.execute_privileges(
    'create_campaign_with_coverage', ARRAY['jsonb', 'jsonb'], false);

-- ===========================================================================================
-- Setup: two workspaces, A and B
-- ===========================================================================================
\ir lib/workspaces.psql

DO $do$
BEGIN
    SET LOCAL ROLE campaigndb_app;
    PERFORM set_config('campaigndb_test.as_app', create_campaign_with_coverage(
        '{"workspace_id": "aaaaaaaa-0000-4000-8000-000000000001", "name": "Made by the app"}',
        '["30301"]')::text, true);
    RESET ROLE;
END
$do$;
SELECT is(pg_temp.envelope_shape(current_setting('campaigndb_test.as_app')::jsonb),
          pg_temp.success_shape(),
          'campaigndb_app, which holds no table privilege, creates a campaign through the function');

SELECT throws_ok(
    $$DO $do$ BEGIN
          SET LOCAL ROLE campaigndb_readonly;
          PERFORM create_campaign_with_coverage(
              '{"workspace_id": "aaaaaaaa-0000-4000-8000-000000000001", "name": "Readonly"}', '[]');
      END $do$
    $$,
    '42501', NULL,
    'campaigndb_readonly is refused EXECUTE on create_campaign_with_coverage (42501)');

-- ===========================================================================================
-- Happy path: ZIP strings and objects, repeats collapse (the first occurrence wins)
-- ===========================================================================================
CALL pg_temp.call('new campaign', $$
    SELECT create_campaign_with_coverage(
        pg_temp.austin(), pg_temp.austin_zips())
$$);

SELECT is(pg_temp.envelope('new campaign'),
          '{"success": true, "error": null, "error_code": null, "retry_recommended": false,
            "campaign_id": "cccccccc-0000-4000-8000-000000000001", "zip_count": 4,
            "replayed": false}'::jsonb,
          'new campaign: success envelope with campaign_id, zip_count 4 (7 elements, 3 repeats), replayed false');
SELECT is(pg_temp.rows_added('new campaign'),
          '{"campaigns": 1, "gmaps_campaign_coverage": 4}'::jsonb,
          'new campaign: one campaign row and four coverage rows added');
SELECT set_eq(
    $$SELECT g.zip_code::text, g.estimated_cost FROM campaigndb.gmaps_campaign_coverage AS g
       WHERE g.campaign_id = 'cccccccc-0000-4000-8000-000000000001'$$,
    $$VALUES ('73301', NULL::numeric), ('73344', 1.25), ('78701', NULL), ('78702', NULL)$$,
    'new campaign: coverage holds each ZIP once, trimmed, with the first occurrence''s estimated_cost');
SELECT is((SELECT jsonb_build_object('workspace_id', c.workspace_id, 'name', c.name,
                                     'status', c.status, 'total_cost', c.total_cost,
                                     'total_businesses', c.total_businesses)
             FROM campaigndb.campaigns AS c WHERE c.id = 'cccccccc-0000-4000-8000-000000000001'),
          '{"workspace_id": "aaaaaaaa-0000-4000-8000-000000000001", "name": "Dentists in Austin",
            "status": "active", "total_cost": 0, "total_businesses": 0}'::jsonb,
          'new campaign: the campaign row holds workspace, name, status, zero totals');

-- ===========================================================================================
-- Happy path: a server-chosen id, no optional fields
-- ===========================================================================================
CALL pg_temp.call('minimal campaign', $$
    SELECT create_campaign_with_coverage(
        '{"workspace_id": "aaaaaaaa-0000-4000-8000-000000000001", "name": "Minimal"}',
        '["10001"]')
$$);
SELECT is(pg_temp.envelope_shape(pg_temp.envelope('minimal campaign')), pg_temp.success_shape(),
          'minimal campaign: success envelope with success, error, error_code, retry_recommended');
SELECT ok(pg_temp.envelope('minimal campaign') ->> 'campaign_id'
              ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$',
          'minimal campaign: campaign_id is a uuid');
SELECT is(pg_temp.envelope('minimal campaign') -> 'zip_count', '1'::jsonb,
          'minimal campaign: zip_count 1');

-- ===========================================================================================
-- Idempotent replay: same id, same data (key order and spacing do not matter)
-- ===========================================================================================
CALL pg_temp.call('replay', $$
    SELECT create_campaign_with_coverage(
        '{"settings": {"max_results": 100}, "keywords": ["dentist", "orthodontist"],
          "location": "Austin, TX", "search_query": "dentist", "status": "active",
          "name": "Dentists in Austin", "workspace_id": "aaaaaaaa-0000-4000-8000-000000000001",
          "id": "cccccccc-0000-4000-8000-000000000001"}',
        '["73301", " 73301 ", {"estimated_cost": 1.25, "zip_code": "73344"}, "73344",
          {"zip_code": "73301", "estimated_cost": 9}, "78701", {"zip_code": "78702"}]')
$$);
SELECT is(pg_temp.envelope('replay'),
          '{"success": true, "error": null, "error_code": null, "retry_recommended": false,
            "campaign_id": "cccccccc-0000-4000-8000-000000000001", "zip_count": 4,
            "replayed": true}'::jsonb,
          'replay: the first campaign_id and zip_count, replayed true');
SELECT is(pg_temp.changes('replay'), '{}'::jsonb, 'replay: nothing written');

-- ===========================================================================================
-- Idempotency mismatch: same id, other data (23505)
-- ===========================================================================================
SELECT * FROM pg_temp.fails_with('same id, other name', $$
    SELECT create_campaign_with_coverage(
        '{"id": "cccccccc-0000-4000-8000-000000000001",
          "workspace_id": "aaaaaaaa-0000-4000-8000-000000000001", "name": "Dentists in Dallas"}',
        '["73301"]')
$$, '23505');
SELECT * FROM pg_temp.fails_with('same id, other ZIPs', $$
    SELECT create_campaign_with_coverage(
        pg_temp.austin(),
        '["73301", "99999"]')
$$, '23505');

-- ===========================================================================================
-- p_campaign_data errors
-- ===========================================================================================
SELECT * FROM pg_temp.fails_with('p_campaign_data is NULL',
    $$SELECT create_campaign_with_coverage(NULL, '["10001"]')$$, '23502');
SELECT * FROM pg_temp.fails_with('p_campaign_data is an array',
    $$SELECT create_campaign_with_coverage('[]', '["10001"]')$$, '22023');
SELECT * FROM pg_temp.fails_with('unknown key in p_campaign_data', $$
    SELECT create_campaign_with_coverage(
        '{"workspace_id": "aaaaaaaa-0000-4000-8000-000000000001", "name": "Typo", "staus": "active"}',
        '["10001"]')
$$, '22023');
SELECT * FROM pg_temp.fails_with('name missing', $$
    SELECT create_campaign_with_coverage(
        '{"workspace_id": "aaaaaaaa-0000-4000-8000-000000000001"}', '["10001"]')
$$, '23502');
SELECT * FROM pg_temp.fails_with('name blank', $$
    SELECT create_campaign_with_coverage(
        '{"workspace_id": "aaaaaaaa-0000-4000-8000-000000000001", "name": "   "}', '["10001"]')
$$, '23502');
SELECT * FROM pg_temp.fails_with('name not a string', $$
    SELECT create_campaign_with_coverage(
        '{"workspace_id": "aaaaaaaa-0000-4000-8000-000000000001", "name": 42}', '["10001"]')
$$, '22023');
SELECT * FROM pg_temp.fails_with('name longer than 200 characters', $$
    SELECT create_campaign_with_coverage(
        jsonb_build_object('workspace_id', 'aaaaaaaa-0000-4000-8000-000000000001',
                           'name', repeat('n', 201)), '["10001"]')
$$, '22023');
SELECT * FROM pg_temp.fails_with('workspace_id missing',
    $$SELECT create_campaign_with_coverage('{"name": "No workspace"}', '["10001"]')$$, '23502');
SELECT * FROM pg_temp.fails_with('workspace_id not a uuid',
    $$SELECT create_campaign_with_coverage('{"workspace_id": "nope", "name": "Bad"}', '["10001"]')$$,
    '22P02');
SELECT * FROM pg_temp.fails_with('id not a uuid', $$
    SELECT create_campaign_with_coverage(
        '{"id": "nope", "workspace_id": "aaaaaaaa-0000-4000-8000-000000000001", "name": "Bad id"}',
        '["10001"]')
$$, '22P02');
SELECT * FROM pg_temp.fails_with('unknown workspace', $$
    SELECT create_campaign_with_coverage(
        '{"workspace_id": "eeeeeeee-0000-4000-8000-00000000000e", "name": "Orphan"}', '["10001"]')
$$, '23503');
SELECT * FROM pg_temp.fails_with('unknown status', $$
    SELECT create_campaign_with_coverage(
        '{"workspace_id": "aaaaaaaa-0000-4000-8000-000000000001", "name": "Odd", "status": "bogus"}',
        '["10001"]')
$$, '23514');
SELECT * FROM pg_temp.fails_with('keywords not an array of strings', $$
    SELECT create_campaign_with_coverage(
        '{"workspace_id": "aaaaaaaa-0000-4000-8000-000000000001", "name": "Kw", "keywords": [1, 2]}',
        '["10001"]')
$$, '22023');
SELECT * FROM pg_temp.fails_with('settings not an object', $$
    SELECT create_campaign_with_coverage(
        '{"workspace_id": "aaaaaaaa-0000-4000-8000-000000000001", "name": "St", "settings": [1]}',
        '["10001"]')
$$, '22023');

-- ===========================================================================================
-- p_zip_codes errors
-- ===========================================================================================
SELECT * FROM pg_temp.fails_with('p_zip_codes is NULL', $$
    SELECT create_campaign_with_coverage(
        '{"workspace_id": "aaaaaaaa-0000-4000-8000-000000000001", "name": "Z"}', NULL)
$$, '23502');
SELECT * FROM pg_temp.fails_with('p_zip_codes is an object, not an array', $$
    SELECT create_campaign_with_coverage(
        '{"workspace_id": "aaaaaaaa-0000-4000-8000-000000000001", "name": "Z"}',
        '{"zip_code": "10001"}')
$$, '22023');
SELECT * FROM pg_temp.fails_with('p_zip_codes is a string, not an array', $$
    SELECT create_campaign_with_coverage(
        '{"workspace_id": "aaaaaaaa-0000-4000-8000-000000000001", "name": "Z"}', '"10001"')
$$, '22023');
SELECT * FROM pg_temp.fails_with('more than 50,000 ZIPs', $$
    SELECT create_campaign_with_coverage(
        '{"workspace_id": "aaaaaaaa-0000-4000-8000-000000000001", "name": "Too many"}',
        (SELECT jsonb_agg(g::text) FROM generate_series(100001, 150001) AS g))
$$, '54000');
SELECT * FROM pg_temp.fails_with('a ZIP element is a number (after a good one)', $$
    SELECT create_campaign_with_coverage(
        '{"workspace_id": "aaaaaaaa-0000-4000-8000-000000000001", "name": "Z"}', '["10001", 10002]')
$$, '22023');
SELECT * FROM pg_temp.fails_with('a ZIP element is null', $$
    SELECT create_campaign_with_coverage(
        '{"workspace_id": "aaaaaaaa-0000-4000-8000-000000000001", "name": "Z"}', '[null]')
$$, '22023');
SELECT * FROM pg_temp.fails_with('a ZIP element is an array', $$
    SELECT create_campaign_with_coverage(
        '{"workspace_id": "aaaaaaaa-0000-4000-8000-000000000001", "name": "Z"}', '[["10001"]]')
$$, '22023');
SELECT * FROM pg_temp.fails_with('a ZIP element is a boolean', $$
    SELECT create_campaign_with_coverage(
        '{"workspace_id": "aaaaaaaa-0000-4000-8000-000000000001", "name": "Z"}', '[true]')
$$, '22023');
SELECT * FROM pg_temp.fails_with('a ZIP string that is not a ZIP code', $$
    SELECT create_campaign_with_coverage(
        '{"workspace_id": "aaaaaaaa-0000-4000-8000-000000000001", "name": "Z"}',
        '["10001", "10002; DROP TABLE x"]')
$$, '22023');
SELECT * FROM pg_temp.fails_with('an empty ZIP string', $$
    SELECT create_campaign_with_coverage(
        '{"workspace_id": "aaaaaaaa-0000-4000-8000-000000000001", "name": "Z"}', '[""]')
$$, '22023');
SELECT * FROM pg_temp.fails_with('a ZIP object without zip_code', $$
    SELECT create_campaign_with_coverage(
        '{"workspace_id": "aaaaaaaa-0000-4000-8000-000000000001", "name": "Z"}',
        '[{"estimated_cost": 1}]')
$$, '23502');
SELECT * FROM pg_temp.fails_with('a ZIP object whose zip_code is a number', $$
    SELECT create_campaign_with_coverage(
        '{"workspace_id": "aaaaaaaa-0000-4000-8000-000000000001", "name": "Z"}',
        '[{"zip_code": 10001}]')
$$, '22023');
SELECT * FROM pg_temp.fails_with('a ZIP object with an unknown key', $$
    SELECT create_campaign_with_coverage(
        '{"workspace_id": "aaaaaaaa-0000-4000-8000-000000000001", "name": "Z"}',
        '[{"zip_code": "10001", "cost": 1}]')
$$, '22023');
SELECT * FROM pg_temp.fails_with('estimated_cost is a string', $$
    SELECT create_campaign_with_coverage(
        '{"workspace_id": "aaaaaaaa-0000-4000-8000-000000000001", "name": "Z"}',
        '[{"zip_code": "10001", "estimated_cost": "1.5"}]')
$$, '22023');
SELECT * FROM pg_temp.fails_with('estimated_cost is negative', $$
    SELECT create_campaign_with_coverage(
        '{"workspace_id": "aaaaaaaa-0000-4000-8000-000000000001", "name": "Z"}',
        '[{"zip_code": "10001", "estimated_cost": -0.01}]')
$$, '22023');

-- ===========================================================================================
-- Workspace binding (campaigndb.workspace_id)
-- ===========================================================================================
SET LOCAL campaigndb.workspace_id = 'bbbbbbbb-0000-4000-8000-000000000002';
SELECT * FROM pg_temp.fails_with('bound to workspace B, a campaign in workspace A', $$
    SELECT create_campaign_with_coverage(
        '{"workspace_id": "aaaaaaaa-0000-4000-8000-000000000001", "name": "Intruder"}', '["10001"]')
$$, '42501');
SELECT * FROM pg_temp.fails_with('bound to workspace B, replay of a campaign of workspace A', $$
    SELECT create_campaign_with_coverage(
        pg_temp.austin(), pg_temp.austin_zips())
$$, '42501');
-- campaign ids are keys per workspace (revision 0007, docs/tenancy.md): B's campaign gets
-- an id of its own, and nothing tells B that A holds that id
CALL pg_temp.call('bound to workspace B, a campaign in B reusing the id of A''s campaign', $$
    SELECT create_campaign_with_coverage(
        '{"id": "cccccccc-0000-4000-8000-000000000001",
          "workspace_id": "bbbbbbbb-0000-4000-8000-000000000002", "name": "Id squatter"}',
        '["10001"]')
$$);
SELECT is(pg_temp.envelope('bound to workspace B, a campaign in B reusing the id of A''s campaign')
          ->> 'success', 'true', 'bound to workspace B, reusing the id of A''s campaign: created');
SELECT isnt(pg_temp.envelope('bound to workspace B, a campaign in B reusing the id of A''s campaign')
            ->> 'campaign_id', 'cccccccc-0000-4000-8000-000000000001',
            'bound to workspace B, reusing the id of A''s campaign: under a new id');
CALL pg_temp.call('bound to workspace B, a campaign in B', $$
    SELECT create_campaign_with_coverage(
        '{"workspace_id": "bbbbbbbb-0000-4000-8000-000000000002", "name": "Own"}', '["10001"]')
$$);
SELECT is(pg_temp.envelope_shape(pg_temp.envelope('bound to workspace B, a campaign in B')),
          pg_temp.success_shape(),
          'bound to workspace B: a campaign in workspace B is created');

SET LOCAL campaigndb.workspace_id = 'not-a-uuid';
SELECT * FROM pg_temp.fails_with('garbage campaigndb.workspace_id', $$
    SELECT create_campaign_with_coverage(
        '{"workspace_id": "aaaaaaaa-0000-4000-8000-000000000001", "name": "Garbage"}', '["10001"]')
$$, '22023');
RESET campaigndb.workspace_id;

-- ===========================================================================================
-- Normal use: 10,000 ZIPs in one call (last, so that the state digests above stay small)
-- ===========================================================================================
CALL pg_temp.call('10,000 ZIPs', $$
    SELECT create_campaign_with_coverage(
        '{"workspace_id": "aaaaaaaa-0000-4000-8000-000000000001", "name": "Ten thousand"}',
        (SELECT jsonb_agg(lpad(g::text, 5, '0')) FROM generate_series(1, 10000) AS g))
$$);
SELECT is(pg_temp.envelope('10,000 ZIPs') -> 'zip_count', '10000'::jsonb,
          '10,000 ZIPs: zip_count 10000');
SELECT is(pg_temp.rows_added('10,000 ZIPs'),
          '{"campaigns": 1, "gmaps_campaign_coverage": 10000}'::jsonb,
          '10,000 ZIPs: one campaign and 10,000 coverage rows added');

-- ===========================================================================================
-- A parameter that cannot be cast raises before the function runs (no envelope possible)
-- ===========================================================================================
SELECT throws_ok($$SELECT create_campaign_with_coverage(
                       p_campaign_data => '{"workspace_id": "aaaaaaaa-0000-4000-8000-000000000001", "name": "J"}',
                       p_zip_codes => '["10001"')$$,
                 '22P02', NULL,
                 'p_zip_codes => malformed JSON raises 22P02 (cast failure before the call)');

-- Issue 14: estimated costs are micro-dollars, numeric(18,6); keywords are bounded
RESET campaigndb.workspace_id;
SELECT * FROM pg_temp.fails_with('estimated cost with 7 decimals', $$
    SELECT create_campaign_with_coverage(
        '{"workspace_id": "aaaaaaaa-0000-4000-8000-000000000001", "name": "Tiny cost"}',
        '[{"zip_code": "10001", "estimated_cost": 1e-16383}]')
$$, '22023');
SELECT * FROM pg_temp.fails_with('estimated cost of 1e12', $$
    SELECT create_campaign_with_coverage(
        '{"workspace_id": "aaaaaaaa-0000-4000-8000-000000000001", "name": "Huge cost"}',
        '[{"zip_code": "10001", "estimated_cost": 1e12}]')
$$, '22003');
SELECT * FROM pg_temp.fails_with('1,001 keywords', format($$
    SELECT create_campaign_with_coverage(
        jsonb_build_object('workspace_id', 'aaaaaaaa-0000-4000-8000-000000000001',
                           'name', 'Many keywords',
                           'keywords', (SELECT jsonb_agg('k' || g) FROM generate_series(1, 1001) g)),
        '["10001"]')
$$), '54000');

SELECT * FROM finish();
ROLLBACK;
