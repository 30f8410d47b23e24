-- validate_campaign_execution_constraints(p_workspace_id uuid, p_workspace_n8n_workflow_id uuid,
--                                         p_campaign_type text) -> jsonb
-- docs/contract.md section 3 (Campaign execution): would execute_campaign_atomically accept this
-- launch?  Answers valid and violations (code, message), read only: workspace_not_found,
-- workflow_not_found (absent or in another workspace), workflow_not_active,
-- unknown_campaign_type, campaign_type_mismatch.  campaigndb_readonly may call it.
-- Runs in one transaction that is rolled back.
BEGIN;
SELECT plan(60);

-- Shared test helpers (pg_temp functions, gone with the session)
\ir lib/helpers.psql

-- codes(label): the violation codes a recorded call answered, sorted (their order is not
-- part of the contract)
CREATE FUNCTION pg_temp.codes(p_label text)
RETURNS text[]
LANGUAGE sql
AS $$
    SELECT COALESCE(array_agg(v ->> 'code' ORDER BY v ->> 'code'), ARRAY[]::text[])
      FROM jsonb_array_elements(pg_temp.envelope(p_label) -> 'violations') AS v
$$;

-- validates(label, sql, codes): run the call; assert success with valid = (no codes), the
-- violation codes, a message with each, and that it wrote nothing (four assertions)
CREATE FUNCTION pg_temp.validates(p_label text, p_sql text, p_codes text[])
RETURNS SETOF text
LANGUAGE plpgsql
AS $$
BEGIN
    CALL pg_temp.call(p_label, p_sql);
    RETURN NEXT is(pg_temp.envelope(p_label) - 'violations',
                   pg_temp.envelope_ok_fields(jsonb_build_object('valid', cardinality(p_codes) = 0)),
                   p_label || ': success, valid ' || (cardinality(p_codes) = 0)::text);
    RETURN NEXT is(pg_temp.codes(p_label), (SELECT COALESCE(array_agg(c ORDER BY c), ARRAY[]::text[])
                                               FROM unnest(p_codes) AS c),
                   p_label || ': violations ' || CASE WHEN cardinality(p_codes) = 0 THEN 'none'
                                                      ELSE array_to_string(p_codes, ', ') END);
    RETURN NEXT is(ARRAY(SELECT v::text
                           FROM jsonb_array_elements(pg_temp.envelope(p_label) -> 'violations') AS v
                          WHERE jsonb_typeof(v -> 'message') IS DISTINCT FROM 'string'
                             OR v ->> 'message' !~ '\S'),
                   ARRAY[]::text[], p_label || ': every violation carries a message');
    RETURN NEXT is(pg_temp.changes(p_label), '{}'::jsonb, p_label || ': nothing written');
END
$$;

CREATE FUNCTION pg_temp.envelope_ok_fields(p_fields jsonb)
RETURNS jsonb
LANGUAGE sql
AS $$
    SELECT '{"success": true, "error": null, "error_code": null, "retry_recommended": false}'::jsonb
           || p_fields
$$;

-- ===========================================================================================
-- Definition: signature, return type, volatility, SECURITY DEFINER, pinned search_path
-- ===========================================================================================
SELECT * FROM pg_temp.definition(
    'validate_campaign_execution_constraints', ARRAY['uuid', 'uuid', 'text'], 'jsonb', 'stable');
SELECT is(pg_temp.search_path_of('public.validate_campaign_execution_constraints(uuid, uuid, text)'),
          'pg_catalog, pg_temp',
          'validate_campaign_execution_constraints pins search_path = pg_catalog, pg_temp');
SELECT is((SELECT p.proargnames FROM pg_catalog.pg_proc AS p
            WHERE p.oid = 'public.validate_campaign_execution_constraints(uuid, uuid, text)'::regprocedure),
          ARRAY['p_workspace_id', 'p_workspace_n8n_workflow_id', 'p_campaign_type'],
          'validate_campaign_execution_constraints: parameter names and order of the contract');

-- ===========================================================================================
-- Privileges: campaigndb_app and campaigndb_readonly may EXECUTE; PUBLIC may not
-- ===========================================================================================
SELECT * FROM pg_temp.execute_privileges(
    'validate_campaign_execution_constraints', ARRAY['uuid', 'uuid', 'text'], true);

-- ===========================================================================================
-- Setup: workspace A with an active email workflow and a paused one, workspace B with an
-- active sms workflow
-- ===========================================================================================
\ir lib/workspaces.psql
SELECT is(ARRAY[register_n8n_workflow('aaaaaaaa-0000-4000-8000-000000000001', 'a-email', 'A email', 'email') ->> 'success',
                register_n8n_workflow('aaaaaaaa-0000-4000-8000-000000000001', 'a-paused', 'A paused', 'email', 'paused') ->> 'success',
                register_n8n_workflow('bbbbbbbb-0000-4000-8000-000000000002', 'b-sms', 'B sms', 'sms') ->> 'success'],
          ARRAY['true', 'true', 'true'], 'setup: three workflows');

SELECT is(pg_temp.call_as('campaigndb_readonly', format($$
              SELECT validate_campaign_execution_constraints('aaaaaaaa-0000-4000-8000-000000000001',
                                                             %L, 'email')$$, pg_temp.wf('a-email'))),
          '{"success": true, "error": null, "error_code": null, "retry_recommended": false,
            "valid": true, "violations": []}'::jsonb,
          'campaigndb_readonly, which holds no table privilege, validates through the function');
SELECT is(pg_temp.call_as('campaigndb_app', format($$
              SELECT validate_campaign_execution_constraints('aaaaaaaa-0000-4000-8000-000000000001',
                                                             %L, 'email')$$, pg_temp.wf('a-paused')))
              -> 'valid',
          'false'::jsonb, 'campaigndb_app validates through the function');

-- ===========================================================================================
-- A valid launch, and each violation
-- ===========================================================================================
SELECT * FROM pg_temp.validates('valid', format($$
    SELECT validate_campaign_execution_constraints(
               p_workspace_id => 'aaaaaaaa-0000-4000-8000-000000000001',
               p_workspace_n8n_workflow_id => %L, p_campaign_type => 'email')
$$, pg_temp.wf('a-email')), ARRAY[]::text[]);
SELECT is(pg_temp.envelope('valid') -> 'violations', '[]'::jsonb,
          'valid: violations is an empty array');

SELECT * FROM pg_temp.validates('unknown workspace', format($$
    SELECT validate_campaign_execution_constraints('eeeeeeee-0000-4000-8000-00000000000e', %L, 'email')
$$, pg_temp.wf('a-email')), ARRAY['workspace_not_found', 'workflow_not_found']);
SELECT * FROM pg_temp.validates('unknown workflow', $$
    SELECT validate_campaign_execution_constraints('aaaaaaaa-0000-4000-8000-000000000001',
                                                   'eeeeeeee-0000-4000-8000-00000000000e', 'email')
$$, ARRAY['workflow_not_found']);
SELECT * FROM pg_temp.validates('workflow of another workspace', format($$
    SELECT validate_campaign_execution_constraints('aaaaaaaa-0000-4000-8000-000000000001', %L, 'sms')
$$, pg_temp.wf('b-sms')), ARRAY['workflow_not_found']);
SELECT * FROM pg_temp.validates('paused workflow', format($$
    SELECT validate_campaign_execution_constraints('aaaaaaaa-0000-4000-8000-000000000001', %L, 'email')
$$, pg_temp.wf('a-paused')), ARRAY['workflow_not_active']);
SELECT * FROM pg_temp.validates('unknown campaign type', format($$
    SELECT validate_campaign_execution_constraints('aaaaaaaa-0000-4000-8000-000000000001', %L, 'fax')
$$, pg_temp.wf('a-email')), ARRAY['unknown_campaign_type', 'campaign_type_mismatch']);
SELECT * FROM pg_temp.validates('campaign type mismatch', format($$
    SELECT validate_campaign_execution_constraints('aaaaaaaa-0000-4000-8000-000000000001', %L, 'sms')
$$, pg_temp.wf('a-email')), ARRAY['campaign_type_mismatch']);
SELECT * FROM pg_temp.validates('paused workflow and type mismatch', format($$
    SELECT validate_campaign_execution_constraints('aaaaaaaa-0000-4000-8000-000000000001', %L,
                                                   'linkedin')
$$, pg_temp.wf('a-paused')), ARRAY['workflow_not_active', 'campaign_type_mismatch']);

-- The answer agrees with execute_campaign_atomically (a mismatch alone is allowed by execute)
SELECT is(ARRAY[(execute_campaign_atomically('aaaaaaaa-0000-4000-8000-000000000001', pg_temp.wf('a-paused'),
                                             NULL, 'X', 'email') ->> 'error_code'),
                (execute_campaign_atomically('aaaaaaaa-0000-4000-8000-000000000001', pg_temp.wf('b-sms'),
                                             NULL, 'X', 'sms') ->> 'error_code'),
                (execute_campaign_atomically('aaaaaaaa-0000-4000-8000-000000000001', pg_temp.wf('a-email'),
                                             NULL, 'X', 'fax') ->> 'error_code'),
                (execute_campaign_atomically('aaaaaaaa-0000-4000-8000-000000000001', pg_temp.wf('a-email'),
                                             NULL, 'X', 'sms') ->> 'success')],
          ARRAY['55000', 'P0002', '23514', 'true'],
          'execute_campaign_atomically refuses what validate reports (55000 not active, P0002 '
          'workflow not found, 23514 unknown type) and accepts a type mismatch');

-- ===========================================================================================
-- Bad parameters: 23502
-- ===========================================================================================
SELECT * FROM pg_temp.fails_with('NULL workspace', format($$
    SELECT validate_campaign_execution_constraints(NULL, %L, 'email')
$$, pg_temp.wf('a-email')), '23502');
SELECT * FROM pg_temp.fails_with('NULL workflow', $$
    SELECT validate_campaign_execution_constraints('aaaaaaaa-0000-4000-8000-000000000001', NULL, 'email')
$$, '23502');
SELECT * FROM pg_temp.fails_with('NULL campaign type', format($$
    SELECT validate_campaign_execution_constraints('aaaaaaaa-0000-4000-8000-000000000001', %L, NULL)
$$, pg_temp.wf('a-email')), '23502');

-- ===========================================================================================
-- Workspace binding (campaigndb.workspace_id)
-- ===========================================================================================
SET LOCAL campaigndb.workspace_id = 'bbbbbbbb-0000-4000-8000-000000000002';
SELECT * FROM pg_temp.fails_with('bound to workspace B, validating in workspace A', format($$
    SELECT validate_campaign_execution_constraints('aaaaaaaa-0000-4000-8000-000000000001', %L, 'email')
$$, pg_temp.wf('a-email')), '42501');
CALL pg_temp.call('bound to workspace B, validating in workspace B', format($$
    SELECT validate_campaign_execution_constraints('bbbbbbbb-0000-4000-8000-000000000002', %L, 'sms')
$$, pg_temp.wf('b-sms')));
SELECT is(pg_temp.envelope('bound to workspace B, validating in workspace B'),
          '{"success": true, "error": null, "error_code": null, "retry_recommended": false,
            "valid": true, "violations": []}'::jsonb,
          'bound to workspace B: a launch in workspace B validates');

SET LOCAL campaigndb.workspace_id = 'not-a-uuid';
SELECT * FROM pg_temp.fails_with('garbage campaigndb.workspace_id', format($$
    SELECT validate_campaign_execution_constraints('aaaaaaaa-0000-4000-8000-000000000001', %L, 'email')
$$, pg_temp.wf('a-email')), '22023');
RESET campaigndb.workspace_id;

-- ===========================================================================================
-- A parameter that cannot be cast raises before the function runs (no envelope possible)
-- ===========================================================================================
SELECT throws_ok($$SELECT validate_campaign_execution_constraints(
                       p_workspace_id => 'aaaaaaaa-0000-4000-8000-000000000001',
                       p_workspace_n8n_workflow_id => 'nope', p_campaign_type => 'email')$$,
                 '22P02', NULL,
                 'p_workspace_n8n_workflow_id => ''nope'' raises 22P02 (cast failure before the call)');

SELECT * FROM finish();
ROLLBACK;
