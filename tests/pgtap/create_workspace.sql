-- create_workspace(p_name text, p_workspace_id uuid DEFAULT NULL) -> jsonb
-- docs/contract.md section 3: returns workspace_id; p_workspace_id is the client-chosen id and
-- idempotency key (same id and name: replayed; same id, other name: 23505).
-- Runs in one transaction that is rolled back.
BEGIN;
SELECT plan(37);

-- Shared test helpers (pg_temp functions, gone with the session)
\ir lib/helpers.psql

-- ===========================================================================================
-- Definition: signature, return type, volatility, SECURITY DEFINER, pinned search_path
-- ===========================================================================================
SELECT * FROM pg_temp.definition('create_workspace', ARRAY['text', 'uuid'], 'jsonb', 'volatile');
SELECT ok(EXISTS (SELECT 1 FROM unnest((SELECT p.proconfig FROM pg_catalog.pg_proc AS p
                                        WHERE p.oid = 'public.create_workspace(text, uuid)'::regprocedure)) AS c
                   WHERE c ~ '^search_path="?pg_catalog"?(\s*,\s*[^,]+)*\s*,\s*"?pg_temp"?$'),
          'create_workspace pins search_path to pg_catalog, ..., pg_temp');

-- ===========================================================================================
-- Privileges: campaigndb_app may EXECUTE; PUBLIC and campaigndb_readonly may not
-- ===========================================================================================
SELECT * FROM pg_temp.execute_privileges('create_workspace', ARRAY['text', 'uuid'], false);

DO $do$
BEGIN
    SET LOCAL ROLE campaigndb_app;
    PERFORM set_config('campaigndb_test.as_app',
                       create_workspace('Created by campaigndb_app')::text, true);
    RESET ROLE;
END
$do$;
SELECT is(pg_temp.envelope_shape(current_setting('campaigndb_test.as_app')::jsonb),
          pg_temp.success_shape(),
          'campaigndb_app, which holds no table privilege, creates a workspace through the function');

SELECT throws_ok(
    $$DO $do$ BEGIN
          SET LOCAL ROLE campaigndb_readonly;
          PERFORM create_workspace('Created by campaigndb_readonly');
      END $do$
    $$,
    '42501', NULL,
    'campaigndb_readonly is refused EXECUTE on create_workspace (42501)');

-- ===========================================================================================
-- Happy path: a server-chosen id
-- ===========================================================================================
CALL pg_temp.call('new workspace', $$SELECT create_workspace('Acme Marketing')$$);

SELECT is(pg_temp.envelope_shape(pg_temp.envelope('new workspace')), pg_temp.success_shape(),
          'new workspace: success envelope with success, error, error_code, retry_recommended');
SELECT ok(pg_temp.envelope('new workspace') ->> 'workspace_id'
              ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$',
          'new workspace: workspace_id is a uuid');
SELECT is(pg_temp.envelope('new workspace') -> 'replayed', 'false'::jsonb,
          'new workspace: replayed is false');
SELECT is((SELECT w.name FROM campaigndb.workspaces AS w
            WHERE w.id = (pg_temp.envelope('new workspace') ->> 'workspace_id')::uuid),
          'Acme Marketing',
          'new workspace: the row holds the name');
SELECT is(pg_temp.rows_added('new workspace'), '{"workspaces": 1}'::jsonb,
          'new workspace: exactly one workspaces row added');

-- ===========================================================================================
-- Happy path: a client-chosen id
-- ===========================================================================================
CALL pg_temp.call('chosen id',
    $$SELECT create_workspace(p_name => 'Beta Leads',
                              p_workspace_id => 'aaaaaaaa-0000-4000-8000-000000000001')$$);

SELECT is(pg_temp.envelope('chosen id'),
          '{"success": true, "error": null, "error_code": null, "retry_recommended": false,
            "workspace_id": "aaaaaaaa-0000-4000-8000-000000000001", "replayed": false}'::jsonb,
          'chosen id: the envelope returns the chosen workspace_id, replayed false');
SELECT is(pg_temp.rows_added('chosen id'), '{"workspaces": 1}'::jsonb,
          'chosen id: exactly one workspaces row added');

SELECT is(pg_temp.envelope_shape(create_workspace(repeat('n', 200))), pg_temp.success_shape(),
          'a name of 200 characters is accepted');

-- ===========================================================================================
-- Idempotent replay: same id, same name
-- ===========================================================================================
CALL pg_temp.call('replay',
    $$SELECT create_workspace(p_name => 'Beta Leads',
                              p_workspace_id => 'aaaaaaaa-0000-4000-8000-000000000001')$$);

SELECT is(pg_temp.envelope('replay'),
          '{"success": true, "error": null, "error_code": null, "retry_recommended": false,
            "workspace_id": "aaaaaaaa-0000-4000-8000-000000000001", "replayed": true}'::jsonb,
          'replay: same workspace_id, replayed true');
SELECT is(pg_temp.changes('replay'), '{}'::jsonb, 'replay: nothing written');

-- ===========================================================================================
-- Idempotency mismatch: same id, other name (23505)
-- ===========================================================================================
SELECT * FROM pg_temp.fails_with('same id, other name',
    $$SELECT create_workspace(p_name => 'Gamma Leads',
                              p_workspace_id => 'aaaaaaaa-0000-4000-8000-000000000001')$$,
    '23505');

-- ===========================================================================================
-- Documented errors: 23502 (name missing), 22023 (name too long)
-- ===========================================================================================
SELECT * FROM pg_temp.fails_with('null name', $$SELECT create_workspace(NULL)$$, '23502');
SELECT * FROM pg_temp.fails_with('empty name', $$SELECT create_workspace('')$$, '23502');
SELECT * FROM pg_temp.fails_with('blank name', $$SELECT create_workspace('   ')$$, '23502');
SELECT * FROM pg_temp.fails_with('name of 201 characters',
    $$SELECT create_workspace(repeat('n', 201))$$, '22023');

-- ===========================================================================================
-- Workspace binding (campaigndb.workspace_id)
-- ===========================================================================================
SELECT is(pg_temp.envelope_shape(create_workspace('Delta', 'bbbbbbbb-0000-4000-8000-000000000002')),
          pg_temp.success_shape(), 'setup: a second workspace');

SET LOCAL campaigndb.workspace_id = 'aaaaaaaa-0000-4000-8000-000000000001';
CALL pg_temp.call('bound, own workspace',
    $$SELECT create_workspace(p_name => 'Beta Leads',
                              p_workspace_id => 'aaaaaaaa-0000-4000-8000-000000000001')$$);
SELECT is(pg_temp.envelope('bound, own workspace') -> 'replayed', 'true'::jsonb,
          'bound to workspace A: replaying the creation of A is allowed');

SELECT * FROM pg_temp.fails_with('bound to workspace A, replay of workspace B',
    $$SELECT create_workspace(p_name => 'Delta',
                              p_workspace_id => 'bbbbbbbb-0000-4000-8000-000000000002')$$,
    '42501');

SET LOCAL campaigndb.workspace_id = 'not-a-uuid';
SELECT * FROM pg_temp.fails_with('garbage campaigndb.workspace_id',
    $$SELECT create_workspace('Epsilon')$$, '22023');
RESET campaigndb.workspace_id;

-- ===========================================================================================
-- A parameter that cannot be cast raises before the function runs (no envelope possible)
-- ===========================================================================================
SELECT throws_ok($$SELECT create_workspace(p_name => 'Zeta', p_workspace_id => 'nope')$$,
                 '22P02', NULL,
                 'p_workspace_id => ''nope'' raises 22P02 (cast failure before the call)');

SELECT * FROM finish();
ROLLBACK;
