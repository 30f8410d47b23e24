-- update_email_verification(p_business_id uuid, p_email varchar, p_verification_data jsonb)
--   -> jsonb
-- docs/contract.md section 3: stores an e-mail verifier's verdict on a business; returns
-- verification_status.  p_verification_data is an object with a required status (valid,
-- invalid, risky, unknown, catch_all, disposable) and anything else, stored as is; p_email,
-- when given, becomes the business's e-mail.
-- Runs in one transaction that is rolled back.
BEGIN;
SELECT plan(58);

-- Shared test helpers (pg_temp functions, gone with the session)
\ir lib/helpers.psql

-- verification(campaign, place_id): what a business holds about its e-mail, as jsonb
CREATE FUNCTION pg_temp.verification(p_campaign_id uuid, p_place_id text)
RETURNS jsonb
LANGUAGE sql
AS $$
    SELECT jsonb_build_object('email', b.email, 'status', b.email_verification_status,
                              'data', b.email_verification_data,
                              'verified_at_is_now', b.email_verified_at IS NOT DISTINCT FROM now())
      FROM campaigndb.gmaps_businesses AS b
     WHERE b.campaign_id = p_campaign_id AND b.place_id = p_place_id
$$;

-- ===========================================================================================
-- Definition: signature, return type, volatility, SECURITY DEFINER, pinned search_path
-- ===========================================================================================
SELECT * FROM pg_temp.definition(
    'update_email_verification', ARRAY['uuid', 'character varying', 'jsonb'], 'jsonb', 'volatile');
SELECT ok(EXISTS (SELECT 1 FROM unnest((SELECT p.proconfig FROM pg_catalog.pg_proc AS p
                                        WHERE p.oid = 'public.update_email_verification(uuid, varchar, jsonb)'::regprocedure)) AS c
                   WHERE c ~ '^search_path="?pg_catalog"?(\s*,\s*[^,]+)*\s*,\s*"?pg_temp"?$'),
          'update_email_verification pins search_path to pg_catalog, ..., pg_temp');

-- ===========================================================================================
-- Privileges: campaigndb_app may EXECUTE; PUBLIC and campaigndb_readonly may not
-- ===========================================================================================
SELECT * FROM pg_temp.execute_privileges(
    'update_email_verification', ARRAY['uuid', 'character varying', 'jsonb'], false);

-- ===========================================================================================
-- Setup: workspace A with campaign A1 (businesses p1 with an e-mail, p2 without, p3..p8),
-- workspace B with campaign B1 (business q1)
-- ===========================================================================================
\ir lib/workspaces.psql
\set no_a2
\ir lib/campaigns.psql
SELECT is(insert_businesses_batch('a1a1a1a1-0000-4000-8000-000000000001', '73301',
              '[{"place_id": "p1", "name": "One", "email": "info@one.example"},
                {"place_id": "p2", "name": "Two"},
                {"place_id": "p3", "name": "Three", "email": "info@three.example"},
                {"place_id": "p4", "name": "Four", "email": "info@four.example"},
                {"place_id": "p5", "name": "Five", "email": "info@five.example"},
                {"place_id": "p6", "name": "Six", "email": "info@six.example"},
                {"place_id": "p7", "name": "Seven", "email": "info@seven.example"},
                {"place_id": "p8", "name": "Eight", "email": "info@eight.example"}]') -> 'inserted',
          '8'::jsonb, 'setup: eight businesses in campaign A1');
SELECT is(insert_businesses_batch('b1b1b1b1-0000-4000-8000-000000000001', '20001',
              '[{"place_id": "q1", "name": "Q One", "email": "info@q1.example"}]') -> 'inserted',
          '1'::jsonb, 'setup: one business in campaign B1');

-- the roles cannot read the tables: look the id up first
SELECT isnt(set_config('campaigndb_test.q1',
                       pg_temp.business_id('b1b1b1b1-0000-4000-8000-000000000001', 'q1')::text, true),
            NULL, 'setup: the id of business q1, kept for the calls under the roles');
DO $do$
BEGIN
    SET LOCAL ROLE campaigndb_app;
    PERFORM set_config('campaigndb_test.as_app', update_email_verification(
        current_setting('campaigndb_test.q1')::uuid, NULL,
        '{"status": "valid"}')::text, true);
    RESET ROLE;
END
$do$;
SELECT is(current_setting('campaigndb_test.as_app')::jsonb - 'business_id',
          '{"success": true, "error": null, "error_code": null, "retry_recommended": false,
            "verification_status": "valid"}'::jsonb,
          'campaigndb_app, which holds no table privilege, stores a verdict through the function');

SELECT throws_ok(
    $$DO $do$ BEGIN
          SET LOCAL ROLE campaigndb_readonly;
          PERFORM update_email_verification(
              current_setting('campaigndb_test.q1')::uuid, NULL,
              '{"status": "valid"}');
      END $do$
    $$,
    '42501', NULL,
    'campaigndb_readonly is refused EXECUTE on update_email_verification (42501)');

-- ===========================================================================================
-- Happy path: a verdict on the stored e-mail (p_email NULL)
-- ===========================================================================================
SELECT is(pg_temp.verification('a1a1a1a1-0000-4000-8000-000000000001', 'p1'),
          '{"email": "info@one.example", "status": "unverified", "data": null,
            "verified_at_is_now": false}'::jsonb,
          'before: p1 is unverified');

CALL pg_temp.call('valid', $$
    SELECT update_email_verification(
        p_business_id => pg_temp.business_id('a1a1a1a1-0000-4000-8000-000000000001', 'p1'),
        p_email => NULL,
        p_verification_data => '{"status": "valid", "score": 98, "provider": "bouncer",
                                 "checks": {"mx": true, "smtp": "ok"}}')
$$);
SELECT is(pg_temp.envelope('valid'),
          jsonb_build_object('success', true, 'error', NULL, 'error_code', NULL,
                             'retry_recommended', false, 'verification_status', 'valid',
                             'business_id',
                             pg_temp.business_id('a1a1a1a1-0000-4000-8000-000000000001', 'p1')),
          'valid: success envelope with verification_status valid (and the business_id)');
SELECT is(pg_temp.verification('a1a1a1a1-0000-4000-8000-000000000001', 'p1'),
          '{"email": "info@one.example", "status": "valid",
            "data": {"status": "valid", "score": 98, "provider": "bouncer",
                     "checks": {"mx": true, "smtp": "ok"}},
            "verified_at_is_now": true}'::jsonb,
          'valid: status set, the verifier''s data stored as is, e-mail kept, email_verified_at set');
SELECT is(pg_temp.rows_added('valid'), '{}'::jsonb, 'valid: no row added');
SELECT is(ARRAY(SELECT jsonb_object_keys(pg_temp.changes('valid'))), ARRAY['gmaps_businesses'],
          'valid: only gmaps_businesses changed');
SELECT is(pg_temp.verification('a1a1a1a1-0000-4000-8000-000000000001', 'p3'),
          '{"email": "info@three.example", "status": "unverified", "data": null,
            "verified_at_is_now": false}'::jsonb,
          'valid: the other businesses are left alone');

-- ===========================================================================================
-- p_email given: it replaces the business's e-mail (here: p2 had none)
-- ===========================================================================================
CALL pg_temp.call('risky with e-mail', $$
    SELECT update_email_verification(
        pg_temp.business_id('a1a1a1a1-0000-4000-8000-000000000001', 'p2'),
        'sales@two.example', '{"status": "risky", "reason": "low_deliverability"}')
$$);
SELECT is(pg_temp.envelope('risky with e-mail') ->> 'verification_status', 'risky',
          'risky with e-mail: verification_status risky');
SELECT is(pg_temp.verification('a1a1a1a1-0000-4000-8000-000000000001', 'p2'),
          '{"email": "sales@two.example", "status": "risky",
            "data": {"status": "risky", "reason": "low_deliverability"},
            "verified_at_is_now": true}'::jsonb,
          'risky with e-mail: the given e-mail is stored with the verdict');

CALL pg_temp.call('re-verified with another e-mail', $$
    SELECT update_email_verification(
        pg_temp.business_id('a1a1a1a1-0000-4000-8000-000000000001', 'p1'),
        'owner@one.example', '{"status": "invalid"}')
$$);
SELECT is(pg_temp.verification('a1a1a1a1-0000-4000-8000-000000000001', 'p1'),
          '{"email": "owner@one.example", "status": "invalid", "data": {"status": "invalid"},
            "verified_at_is_now": true}'::jsonb,
          're-verified with another e-mail: e-mail replaced, status and data replaced');

-- the other documented statuses
SELECT is(ARRAY(SELECT update_email_verification(
                           pg_temp.business_id('a1a1a1a1-0000-4000-8000-000000000001', x.place_id),
                           NULL, jsonb_build_object('status', x.status)) ->> 'verification_status'
                  FROM (VALUES (1, 'p3', 'unknown'), (2, 'p4', 'catch_all'),
                               (3, 'p5', 'disposable')) AS x(ord, place_id, status)
                 ORDER BY x.ord),
          ARRAY['unknown', 'catch_all', 'disposable'],
          'statuses unknown, catch_all and disposable are each accepted');
SELECT is(ARRAY(SELECT b.email_verification_status FROM campaigndb.gmaps_businesses AS b
                 WHERE b.campaign_id = 'a1a1a1a1-0000-4000-8000-000000000001'
                   AND b.place_id IN ('p3', 'p4', 'p5')
                 ORDER BY b.place_id),
          ARRAY['unknown', 'catch_all', 'disposable'],
          'statuses unknown, catch_all and disposable are stored');

-- ===========================================================================================
-- Documented errors: 23514 (unknown status), 23502, 22023, P0002
-- ===========================================================================================
SELECT * FROM pg_temp.fails_with('unknown status', $$
    SELECT update_email_verification(pg_temp.business_id('a1a1a1a1-0000-4000-8000-000000000001', 'p6'),
                                     NULL, '{"status": "deliverable"}')
$$, '23514');
-- 'unverified' is the column's initial value, not one of the six verdicts the function
-- documents; storing it would set email_verified_at on a business left 'unverified'
SELECT * FROM pg_temp.fails_with('status unverified (not a verdict)', $$
    SELECT update_email_verification(pg_temp.business_id('a1a1a1a1-0000-4000-8000-000000000001', 'p6'),
                                     NULL, '{"status": "unverified"}')
$$, '23514');
SELECT * FROM pg_temp.fails_with('missing status', $$
    SELECT update_email_verification(pg_temp.business_id('a1a1a1a1-0000-4000-8000-000000000001', 'p6'),
                                     NULL, '{"score": 10}')
$$, '23502');
SELECT * FROM pg_temp.fails_with('status null', $$
    SELECT update_email_verification(pg_temp.business_id('a1a1a1a1-0000-4000-8000-000000000001', 'p6'),
                                     NULL, '{"status": null}')
$$, '23502');
SELECT * FROM pg_temp.fails_with('status a number', $$
    SELECT update_email_verification(pg_temp.business_id('a1a1a1a1-0000-4000-8000-000000000001', 'p6'),
                                     NULL, '{"status": 1}')
$$, '22023');
SELECT * FROM pg_temp.fails_with('bad e-mail', $$
    SELECT update_email_verification(pg_temp.business_id('a1a1a1a1-0000-4000-8000-000000000001', 'p6'),
                                     'not-an-email', '{"status": "valid"}')
$$, '22023');
SELECT * FROM pg_temp.fails_with('e-mail with two @', $$
    SELECT update_email_verification(pg_temp.business_id('a1a1a1a1-0000-4000-8000-000000000001', 'p6'),
                                     'a@b@example.com', '{"status": "valid"}')
$$, '22023');
SELECT * FROM pg_temp.fails_with('empty e-mail', $$
    SELECT update_email_verification(pg_temp.business_id('a1a1a1a1-0000-4000-8000-000000000001', 'p6'),
                                     '', '{"status": "valid"}')
$$, '22023');
SELECT * FROM pg_temp.fails_with('verification data an array', $$
    SELECT update_email_verification(pg_temp.business_id('a1a1a1a1-0000-4000-8000-000000000001', 'p6'),
                                     NULL, '[{"status": "valid"}]')
$$, '22023');
SELECT * FROM pg_temp.fails_with('verification data NULL', $$
    SELECT update_email_verification(pg_temp.business_id('a1a1a1a1-0000-4000-8000-000000000001', 'p6'),
                                     NULL, NULL)
$$, '23502');
SELECT * FROM pg_temp.fails_with('unknown business', $$
    SELECT update_email_verification('eeeeeeee-0000-4000-8000-00000000000e', NULL,
                                     '{"status": "valid"}')
$$, 'P0002');
SELECT * FROM pg_temp.fails_with('NULL business', $$
    SELECT update_email_verification(NULL, NULL, '{"status": "valid"}')
$$, '23502');

-- ===========================================================================================
-- Workspace binding (campaigndb.workspace_id)
-- ===========================================================================================
SET LOCAL campaigndb.workspace_id = 'bbbbbbbb-0000-4000-8000-000000000002';
SELECT * FROM pg_temp.fails_with('bound to workspace B, a business of campaign A1', $$
    SELECT update_email_verification(pg_temp.business_id('a1a1a1a1-0000-4000-8000-000000000001', 'p7'),
                                     'new@seven.example', '{"status": "valid"}')
$$, '42501');
CALL pg_temp.call('bound to workspace B, a business of campaign B1', $$
    SELECT update_email_verification(pg_temp.business_id('b1b1b1b1-0000-4000-8000-000000000001', 'q1'),
                                     NULL, '{"status": "disposable"}')
$$);
SELECT is(pg_temp.envelope('bound to workspace B, a business of campaign B1') ->> 'verification_status',
          'disposable', 'bound to workspace B: a verdict on a business of campaign B1 is stored');

SET LOCAL campaigndb.workspace_id = 'not-a-uuid';
SELECT * FROM pg_temp.fails_with('garbage campaigndb.workspace_id', $$
    SELECT update_email_verification(pg_temp.business_id('a1a1a1a1-0000-4000-8000-000000000001', 'p7'),
                                     NULL, '{"status": "valid"}')
$$, '22023');
RESET campaigndb.workspace_id;

-- ===========================================================================================
-- A parameter that cannot be cast raises before the function runs (no envelope possible)
-- ===========================================================================================
SELECT throws_ok($$SELECT update_email_verification(p_business_id => 'nope', p_email => NULL,
                                                   p_verification_data => '{"status": "valid"}')$$,
                 '22P02', NULL,
                 'p_business_id => ''nope'' raises 22P02 (cast failure before the call)');

SELECT * FROM finish();
ROLLBACK;
