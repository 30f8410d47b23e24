-- update_enrichment_batch(p_enrichment_type varchar, p_enrichments jsonb) -> jsonb
-- docs/contract.md section 3: p_enrichment_type is facebook or linkedin; each element names a
-- business_id and what was found ({business_id, url, data}); returns updated, failed,
-- failures.  Elements are independent: a bad or unknown element is counted in failed and
-- listed in failures (index, business_id, error_code, error) while the others apply.  An
-- input that is not an array, an unknown type or more than 10,000 elements fail the call.
-- Runs in one transaction that is rolled back.
BEGIN;
SELECT plan(63);

-- Shared test helpers (pg_temp functions, gone with the session)
\ir lib/helpers.psql

-- enrichment(campaign, place_id): a business's enrichment columns, as jsonb
CREATE FUNCTION pg_temp.enrichment(p_campaign_id uuid, p_place_id text)
RETURNS jsonb
LANGUAGE sql
AS $$
    SELECT jsonb_build_object(
        'facebook_url', b.facebook_url, 'facebook_data', b.facebook_data,
        'facebook_enriched_at', CASE WHEN b.facebook_enriched_at = now() THEN 'now'
                                     ELSE b.facebook_enriched_at::text END,
        'linkedin_url', b.linkedin_url, 'linkedin_data', b.linkedin_data,
        'linkedin_enriched_at', CASE WHEN b.linkedin_enriched_at = now() THEN 'now'
                                     ELSE b.linkedin_enriched_at::text END)
      FROM campaigndb.gmaps_businesses AS b
     WHERE b.campaign_id = p_campaign_id AND b.place_id = p_place_id
$$;

-- failures(label): the failures of a call without their messages, in index order
CREATE FUNCTION pg_temp.failures(p_label text)
RETURNS jsonb
LANGUAGE sql
AS $$
    SELECT COALESCE(jsonb_agg(f - 'error' ORDER BY (f ->> 'index')::int), '[]')
      FROM jsonb_array_elements(pg_temp.envelope(p_label) -> 'failures') AS f
$$;

-- id(place_id): the id of a business of campaign A1 (or of B1 for q*), as a JSON string
CREATE FUNCTION pg_temp.id(p_place_id text)
RETURNS jsonb
LANGUAGE sql
AS $$
    SELECT to_jsonb(pg_temp.business_id(
               CASE WHEN p_place_id LIKE 'q%' THEN 'b1b1b1b1-0000-4000-8000-000000000001'::uuid
                    ELSE 'a1a1a1a1-0000-4000-8000-000000000001'::uuid END, p_place_id))
$$;

-- ===========================================================================================
-- Definition: signature, return type, volatility, SECURITY DEFINER, pinned search_path
-- ===========================================================================================
SELECT * FROM pg_temp.definition(
    'update_enrichment_batch', ARRAY['character varying', 'jsonb'], 'jsonb', 'volatile');
SELECT ok(EXISTS (SELECT 1 FROM unnest((SELECT p.proconfig FROM pg_catalog.pg_proc AS p
                                        WHERE p.oid = 'public.update_enrichment_batch(varchar, jsonb)'::regprocedure)) AS c
                   WHERE c ~ '^search_path="?pg_catalog"?(\s*,\s*[^,]+)*\s*,\s*"?pg_temp"?$'),
          'update_enrichment_batch pins search_path to pg_catalog, ..., pg_temp');

-- ===========================================================================================
-- Privileges: campaigndb_app may EXECUTE; PUBLIC and campaigndb_readonly may not
-- ===========================================================================================
SELECT * FROM pg_temp.execute_privileges(
    'update_enrichment_batch', ARRAY['character varying', 'jsonb'], false);

-- ===========================================================================================
-- Setup: workspace A with campaign A1 (businesses p1..p8), workspace B with campaign B1
-- (businesses q1, q2)
-- ===========================================================================================
\ir lib/workspaces.psql
\set no_a2
\ir lib/campaigns.psql
SELECT is(insert_businesses_batch('a1a1a1a1-0000-4000-8000-000000000001', '73301',
              '[{"place_id": "p1", "name": "One"},
                {"place_id": "p2", "name": "Two", "facebook_url": "https://facebook.com/two-old"},
                {"place_id": "p3", "name": "Three"}, {"place_id": "p4", "name": "Four"},
                {"place_id": "p5", "name": "Five"}, {"place_id": "p6", "name": "Six"},
                {"place_id": "p7", "name": "Seven"}, {"place_id": "p8", "name": "Eight"}]')
          -> 'inserted',
          '8'::jsonb, 'setup: eight businesses in campaign A1');
SELECT is(insert_businesses_batch('b1b1b1b1-0000-4000-8000-000000000001', '20001',
              '[{"place_id": "q1", "name": "Q One"}, {"place_id": "q2", "name": "Q Two"}]')
          -> 'inserted',
          '2'::jsonb, 'setup: two businesses in campaign B1');

-- the roles cannot read the tables: look the id up first
SELECT isnt(set_config('campaigndb_test.q2', pg_temp.id('q2') #>> '{}', true), NULL,
            'setup: the id of business q2, kept for the calls under the roles');
DO $do$
BEGIN
    SET LOCAL ROLE campaigndb_app;
    PERFORM set_config('campaigndb_test.as_app', update_enrichment_batch('facebook',
        jsonb_build_array(jsonb_build_object('business_id', current_setting('campaigndb_test.q2'),
                                             'url', 'https://facebook.com/q2')))::text, true);
    RESET ROLE;
END
$do$;
SELECT is(current_setting('campaigndb_test.as_app')::jsonb,
          '{"success": true, "error": null, "error_code": null, "retry_recommended": false,
            "updated": 1, "failed": 0, "failures": []}'::jsonb,
          'campaigndb_app, which holds no table privilege, enriches a business through the function');

SELECT throws_ok(
    $$DO $do$ BEGIN
          SET LOCAL ROLE campaigndb_readonly;
          PERFORM update_enrichment_batch('facebook',
              jsonb_build_array(jsonb_build_object('business_id', current_setting('campaigndb_test.q2'))));
      END $do$
    $$,
    '42501', NULL,
    'campaigndb_readonly is refused EXECUTE on update_enrichment_batch (42501)');

-- ===========================================================================================
-- Happy path: Facebook
-- ===========================================================================================
CALL pg_temp.call('facebook', $$
    SELECT update_enrichment_batch(p_enrichment_type => 'facebook', p_enrichments => jsonb_build_array(
        jsonb_build_object('business_id', pg_temp.id('p1'), 'url', 'https://facebook.com/one',
                           'data', '{"followers": 120, "category": "Dentist"}'::jsonb),
        jsonb_build_object('business_id', pg_temp.id('p2'), 'url', NULL)))
$$);
SELECT is(pg_temp.envelope('facebook'),
          '{"success": true, "error": null, "error_code": null, "retry_recommended": false,
            "updated": 2, "failed": 0, "failures": []}'::jsonb,
          'facebook: success envelope with updated 2, failed 0, failures []');
SELECT is(pg_temp.enrichment('a1a1a1a1-0000-4000-8000-000000000001', 'p1'),
          '{"facebook_url": "https://facebook.com/one",
            "facebook_data": {"followers": 120, "category": "Dentist"},
            "facebook_enriched_at": "now",
            "linkedin_url": null, "linkedin_data": null, "linkedin_enriched_at": null}'::jsonb,
          'facebook: p1''s facebook_url, facebook_data and facebook_enriched_at set; LinkedIn untouched');
SELECT is(pg_temp.enrichment('a1a1a1a1-0000-4000-8000-000000000001', 'p2'),
          '{"facebook_url": "https://facebook.com/two-old", "facebook_data": null,
            "facebook_enriched_at": "now",
            "linkedin_url": null, "linkedin_data": null, "linkedin_enriched_at": null}'::jsonb,
          'facebook: p2 (url null: searched, nothing found) keeps its facebook_url, is marked enriched');
SELECT is(pg_temp.enrichment('a1a1a1a1-0000-4000-8000-000000000001', 'p3'),
          '{"facebook_url": null, "facebook_data": null, "facebook_enriched_at": null,
            "linkedin_url": null, "linkedin_data": null, "linkedin_enriched_at": null}'::jsonb,
          'facebook: a business not in the batch is left alone');
SELECT is(pg_temp.rows_added('facebook'), '{}'::jsonb, 'facebook: no row added');
SELECT is(ARRAY(SELECT jsonb_object_keys(pg_temp.changes('facebook'))), ARRAY['gmaps_businesses'],
          'facebook: only gmaps_businesses changed');

-- ===========================================================================================
-- Happy path: LinkedIn (the Facebook columns stay as they are)
-- ===========================================================================================
CALL pg_temp.call('linkedin', $$
    SELECT update_enrichment_batch('linkedin', jsonb_build_array(
        jsonb_build_object('business_id', pg_temp.id('p1'),
                           'url', 'https://linkedin.com/company/one',
                           'data', '{"employees": 12}'::jsonb)))
$$);
SELECT is(pg_temp.envelope('linkedin'),
          '{"success": true, "error": null, "error_code": null, "retry_recommended": false,
            "updated": 1, "failed": 0, "failures": []}'::jsonb,
          'linkedin: success envelope with updated 1');
SELECT is(pg_temp.enrichment('a1a1a1a1-0000-4000-8000-000000000001', 'p1'),
          '{"facebook_url": "https://facebook.com/one",
            "facebook_data": {"followers": 120, "category": "Dentist"},
            "facebook_enriched_at": "now",
            "linkedin_url": "https://linkedin.com/company/one",
            "linkedin_data": {"employees": 12}, "linkedin_enriched_at": "now"}'::jsonb,
          'linkedin: p1''s linkedin_url, linkedin_data and linkedin_enriched_at set; Facebook kept');

CALL pg_temp.call('empty batch', $$SELECT update_enrichment_batch('linkedin', '[]')$$);
SELECT is(pg_temp.envelope('empty batch'),
          '{"success": true, "error": null, "error_code": null, "retry_recommended": false,
            "updated": 0, "failed": 0, "failures": []}'::jsonb,
          'an empty batch succeeds with zero counts');
SELECT is(pg_temp.changes('empty batch'), '{}'::jsonb, 'an empty batch writes nothing');

-- ===========================================================================================
-- Bad elements fail one by one; the good ones apply
-- ===========================================================================================
CALL pg_temp.call('mixed', $$
    SELECT update_enrichment_batch('facebook', jsonb_build_array(
        jsonb_build_object('business_id', pg_temp.id('p3'), 'url', 'https://facebook.com/three'),
        'not an object'::text,
        jsonb_build_object('url', 'https://facebook.com/nobody'),
        jsonb_build_object('business_id', 'nope', 'url', 'https://facebook.com/nope'),
        jsonb_build_object('business_id', 'eeeeeeee-0000-4000-8000-00000000000e'),
        jsonb_build_object('business_id', pg_temp.id('p3'), 'url', 'https://facebook.com/three-again'),
        jsonb_build_object('business_id', pg_temp.id('p4'), 'url', 'https://facebook.com/four',
                           'colour', 'red'),
        jsonb_build_object('business_id', pg_temp.id('p5'), 'url', 'https://facebook.com/five',
                           'data', '{"followers": 5}'::jsonb),
        jsonb_build_object('business_id', pg_temp.id('p6'), 'url', 5),
        jsonb_build_object('business_id', pg_temp.id('p7'), 'data', 'x'),
        jsonb_build_object('business_id', NULL),
        jsonb_build_object('business_id', 42)))
$$);
SELECT is(pg_temp.envelope('mixed') - 'failures',
          '{"success": true, "error": null, "error_code": null, "retry_recommended": false,
            "updated": 2, "failed": 10}'::jsonb,
          'mixed: success, updated 2 (p3, p5), failed 10');
SELECT is(pg_temp.failures('mixed'),
          jsonb_build_array(
              '{"index": 1, "business_id": null, "error_code": "22023"}'::jsonb,
              '{"index": 2, "business_id": null, "error_code": "23502"}'::jsonb,
              '{"index": 3, "business_id": "nope", "error_code": "22P02"}'::jsonb,
              '{"index": 4, "business_id": "eeeeeeee-0000-4000-8000-00000000000e", "error_code": "P0002"}'::jsonb,
              jsonb_build_object('index', 5, 'business_id', pg_temp.id('p3'), 'error_code', '23505'),
              jsonb_build_object('index', 6, 'business_id', pg_temp.id('p4'), 'error_code', '22023'),
              jsonb_build_object('index', 8, 'business_id', pg_temp.id('p6'), 'error_code', '22023'),
              jsonb_build_object('index', 9, 'business_id', pg_temp.id('p7'), 'error_code', '22023'),
              '{"index": 10, "business_id": null, "error_code": "23502"}'::jsonb,
              '{"index": 11, "business_id": 42, "error_code": "22P02"}'::jsonb),
          'mixed: failures list index, business_id and error_code of each bad element: not an '
          'object 22023, no business_id 23502, not a uuid 22P02, unknown business P0002, '
          'repeated business 23505, unknown key 22023, url not a string 22023, data not an '
          'object 22023, business_id null 23502, business_id a number 22P02');
SELECT is(ARRAY(SELECT f ->> 'index' FROM jsonb_array_elements(pg_temp.envelope('mixed') -> 'failures') AS f
                 WHERE jsonb_typeof(f -> 'error') <> 'string' OR f ->> 'error' !~ '\S'),
          ARRAY[]::text[], 'mixed: every failure carries an error message');
SELECT is(pg_temp.enrichment('a1a1a1a1-0000-4000-8000-000000000001', 'p3') ->> 'facebook_url',
          'https://facebook.com/three',
          'mixed: p3 holds its first element''s url, not the repeat''s');
SELECT is(pg_temp.enrichment('a1a1a1a1-0000-4000-8000-000000000001', 'p5'),
          '{"facebook_url": "https://facebook.com/five", "facebook_data": {"followers": 5},
            "facebook_enriched_at": "now",
            "linkedin_url": null, "linkedin_data": null, "linkedin_enriched_at": null}'::jsonb,
          'mixed: p5 is enriched');
SELECT is(ARRAY(SELECT b.place_id FROM campaigndb.gmaps_businesses AS b
                 WHERE b.campaign_id = 'a1a1a1a1-0000-4000-8000-000000000001'
                   AND (b.facebook_enriched_at IS NOT NULL OR b.facebook_url IS NOT NULL)
                 ORDER BY b.place_id),
          ARRAY['p1', 'p2', 'p3', 'p5'],
          'mixed: the businesses of the bad elements (p4, p6, p7) are left alone');
SELECT is(pg_temp.rows_added('mixed'), '{}'::jsonb, 'mixed: no row added');

-- ===========================================================================================
-- Bad calls fail whole: unknown type, not an array, too many elements; nothing written
-- (each batch holds a good element, which must not be applied)
-- ===========================================================================================
SELECT * FROM pg_temp.fails_with('unknown type', $$
    SELECT update_enrichment_batch('twitter', jsonb_build_array(
        jsonb_build_object('business_id', pg_temp.id('p8'), 'url', 'https://twitter.com/eight')))
$$, '22023');
SELECT * FROM pg_temp.fails_with('type email', $$
    SELECT update_enrichment_batch('email', jsonb_build_array(
        jsonb_build_object('business_id', pg_temp.id('p8'), 'url', 'mailto:eight@example.com')))
$$, '22023');
SELECT * FROM pg_temp.fails_with('NULL type', $$
    SELECT update_enrichment_batch(NULL, jsonb_build_array(
        jsonb_build_object('business_id', pg_temp.id('p8'), 'url', 'https://facebook.com/eight')))
$$, '23502');
SELECT * FROM pg_temp.fails_with('p_enrichments an object', $$
    SELECT update_enrichment_batch('facebook',
        jsonb_build_object('business_id', pg_temp.id('p8'), 'url', 'https://facebook.com/eight'))
$$, '22023');
SELECT * FROM pg_temp.fails_with('p_enrichments a string', $$
    SELECT update_enrichment_batch('facebook', '"p8"')
$$, '22023');
SELECT * FROM pg_temp.fails_with('p_enrichments NULL', $$
    SELECT update_enrichment_batch('facebook', NULL)
$$, '23502');
SELECT * FROM pg_temp.fails_with('more than 10,000 elements', $$
    SELECT update_enrichment_batch('facebook',
        (SELECT jsonb_agg(jsonb_build_object('business_id', pg_temp.id('p8'),
                                             'url', 'https://facebook.com/eight'))
           FROM generate_series(1, 10001)))
$$, '54000');

-- ===========================================================================================
-- Workspace binding (campaigndb.workspace_id): an element of another workspace fails with
-- 42501 in failures; the elements of the bound workspace apply
-- ===========================================================================================
SET LOCAL campaigndb.workspace_id = 'aaaaaaaa-0000-4000-8000-000000000001';
CALL pg_temp.call('bound to workspace A, a business of B and one of A', $$
    SELECT update_enrichment_batch('linkedin', jsonb_build_array(
        jsonb_build_object('business_id', pg_temp.id('q1'), 'url', 'https://linkedin.com/company/q1'),
        jsonb_build_object('business_id', pg_temp.id('p2'), 'url', 'https://linkedin.com/company/two')))
$$);
SELECT is(pg_temp.envelope('bound to workspace A, a business of B and one of A') - 'failures',
          '{"success": true, "error": null, "error_code": null, "retry_recommended": false,
            "updated": 1, "failed": 1}'::jsonb,
          'bound to workspace A: updated 1 (p2 of A), failed 1 (q1 of B)');
SELECT is(pg_temp.failures('bound to workspace A, a business of B and one of A'),
          jsonb_build_array(jsonb_build_object('index', 0, 'business_id', pg_temp.id('q1'),
                                               'error_code', '42501')),
          'bound to workspace A: q1 of workspace B is listed with 42501');
SELECT is(pg_temp.enrichment('b1b1b1b1-0000-4000-8000-000000000001', 'q1'),
          '{"facebook_url": null, "facebook_data": null, "facebook_enriched_at": null,
            "linkedin_url": null, "linkedin_data": null, "linkedin_enriched_at": null}'::jsonb,
          'bound to workspace A: q1 of workspace B is not written');
SELECT is(pg_temp.enrichment('a1a1a1a1-0000-4000-8000-000000000001', 'p2') ->> 'linkedin_url',
          'https://linkedin.com/company/two',
          'bound to workspace A: p2 of workspace A is enriched');

SET LOCAL campaigndb.workspace_id = 'bbbbbbbb-0000-4000-8000-000000000002';
CALL pg_temp.call('bound to workspace B, only businesses of A', $$
    SELECT update_enrichment_batch('facebook', jsonb_build_array(
        jsonb_build_object('business_id', pg_temp.id('p8'), 'url', 'https://facebook.com/eight')))
$$);
SELECT is(pg_temp.envelope('bound to workspace B, only businesses of A') - 'failures',
          '{"success": true, "error": null, "error_code": null, "retry_recommended": false,
            "updated": 0, "failed": 1}'::jsonb,
          'bound to workspace B, only businesses of A: updated 0, failed 1');
SELECT is(pg_temp.failures('bound to workspace B, only businesses of A'),
          jsonb_build_array(jsonb_build_object('index', 0, 'business_id', pg_temp.id('p8'),
                                               'error_code', '42501')),
          'bound to workspace B, only businesses of A: p8 is listed with 42501');
SELECT is(pg_temp.changes('bound to workspace B, only businesses of A'), '{}'::jsonb,
          'bound to workspace B, only businesses of A: nothing written');

-- A setting that is not a uuid must answer 22023 in an envelope, as every other function
-- does (the setting is read inside the body, where the EXCEPTION handler covers it).
SET LOCAL campaigndb.workspace_id = 'not-a-uuid';
SELECT is((SELECT pg_temp.envelope_shape(e) || jsonb_strip_nulls(jsonb_build_object('raised', e -> 'raised'))
             FROM pg_temp.envelope_or_raised($$
                      SELECT update_enrichment_batch('facebook', jsonb_build_array(
                          jsonb_build_object('business_id', pg_temp.id('p8'),
                                             'url', 'https://facebook.com/eight')))$$) AS e),
          pg_temp.failure_shape('22023'),
          'garbage campaigndb.workspace_id: error envelope with error_code 22023, '
          'retry_recommended false (not an exception)');
RESET campaigndb.workspace_id;
SELECT is(pg_temp.enrichment('a1a1a1a1-0000-4000-8000-000000000001', 'p8'),
          '{"facebook_url": null, "facebook_data": null, "facebook_enriched_at": null,
            "linkedin_url": null, "linkedin_data": null, "linkedin_enriched_at": null}'::jsonb,
          'garbage campaigndb.workspace_id: nothing written');

-- ===========================================================================================
-- Issue 14: elements may name the table's own fields (<type>_url, <type>_data) in place of
-- url and data
-- ===========================================================================================
RESET campaigndb.workspace_id;
SELECT is(insert_businesses_batch('a1a1a1a1-0000-4000-8000-000000000001', '73301',
              '[{"place_id": "r1", "name": "R One"}, {"place_id": "r2", "name": "R Two"},
                {"place_id": "r3", "name": "R Three"}, {"place_id": "r4", "name": "R Four"}]')
          -> 'inserted',
          '4'::jsonb, 'setup: four more businesses in campaign A1');
CALL pg_temp.call('table field names', format($$
    SELECT update_enrichment_batch('facebook', '[
        {"business_id": %s, "facebook_url": "https://facebook.com/r1",
         "facebook_data": {"likes": 3}},
        {"business_id": %s, "url": "https://facebook.com/r2", "facebook_url": "https://x"},
        {"business_id": %s, "linkedin_url": "https://linkedin.com/in/r3"}]')
$$, pg_temp.id('r1'), pg_temp.id('r2'), pg_temp.id('r3')));
SELECT is(pg_temp.envelope('table field names') -> 'updated', '1'::jsonb,
          'table field names: facebook_url and facebook_data applied like url and data');
SELECT is(pg_temp.enrichment('a1a1a1a1-0000-4000-8000-000000000001', 'r1'),
          '{"facebook_url": "https://facebook.com/r1", "facebook_data": {"likes": 3},
            "facebook_enriched_at": "now", "linkedin_url": null, "linkedin_data": null,
            "linkedin_enriched_at": null}'::jsonb,
          'table field names: the business holds the url and the data');
SELECT is(pg_temp.failures('table field names'),
          format('[{"index": 1, "business_id": %s, "error_code": "22023"},
                   {"index": 2, "business_id": %s, "error_code": "22023"}]',
                 pg_temp.id('r2'), pg_temp.id('r3'))::jsonb,
          'table field names: url and facebook_url both, or another type''s field: 22023 each');
CALL pg_temp.call('linkedin field names', format($$
    SELECT update_enrichment_batch('linkedin', '[
        {"business_id": %s, "linkedin_url": "https://linkedin.com/in/r4",
         "linkedin_data": {"title": "Owner"}}]')
$$, pg_temp.id('r4')));
SELECT is(pg_temp.enrichment('a1a1a1a1-0000-4000-8000-000000000001', 'r4')
              - 'facebook_url' - 'facebook_data' - 'facebook_enriched_at',
          '{"linkedin_url": "https://linkedin.com/in/r4", "linkedin_data": {"title": "Owner"},
            "linkedin_enriched_at": "now"}'::jsonb,
          'linkedin_url and linkedin_data applied like url and data');

-- ===========================================================================================
-- A parameter that cannot be cast raises before the function runs (no envelope possible)
-- ===========================================================================================
SELECT throws_ok($$SELECT update_enrichment_batch(p_enrichment_type => 'facebook',
                                                 p_enrichments => '[{"business_id": ')$$,
                 '22P02', NULL,
                 'p_enrichments => malformed JSON raises 22P02 (cast failure before the call)');

SELECT * FROM finish();
ROLLBACK;
