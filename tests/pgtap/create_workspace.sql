-- create_workspace(p_name text, p_workspace_id uuid DEFAULT NULL) -> jsonb
-- CONTRACT.md section 3: returns workspace_id; p_workspace_id is the client-chosen id and
-- idempotency key (same id and name: replayed; same id, other name: 23505).
-- Runs in one transaction that is rolled back.
BEGIN;
SELECT plan(37);

-- ===========================================================================================
-- Test helpers (in pg_temp: they disappear with the session and are no part of the schema)
-- ===========================================================================================
-- db_state(): for every table of schema campaigndb, its row count and a digest of its rows;
-- equal before and after a call means the call wrote nothing.
CREATE FUNCTION pg_temp.db_state()
RETURNS jsonb
LANGUAGE plpgsql
AS $$
DECLARE
    v_state  jsonb := '{}';
    v_table  text;
    v_rows   bigint;
    v_digest text;
BEGIN
    FOR v_table IN SELECT c.relname FROM pg_catalog.pg_class AS c
                    WHERE c.relnamespace = 'campaigndb'::regnamespace AND c.relkind IN ('r', 'p')
                    ORDER BY 1
    LOOP
        EXECUTE format('SELECT count(*), md5(COALESCE(string_agg(t::text, E''\n'' ORDER BY t::text), ''''))
                          FROM campaigndb.%I AS t', v_table)
           INTO v_rows, v_digest;
        v_state := v_state || jsonb_build_object(v_table, jsonb_build_object('rows', v_rows,
                                                                             'digest', v_digest));
    END LOOP;
    RETURN v_state;
END
$$;

-- envelope_shape(e): the four keys every envelope carries (CONTRACT.md section 1), reduced to
-- values that can be compared: which keys are present, success, the type of error,
-- error_code and retry_recommended.
CREATE FUNCTION pg_temp.envelope_shape(p_envelope jsonb)
RETURNS jsonb
LANGUAGE sql
AS $$
    SELECT jsonb_build_object(
        'keys', (SELECT COALESCE(jsonb_agg(k ORDER BY k), '[]')
                   FROM unnest(ARRAY['error', 'error_code', 'retry_recommended', 'success']) AS k
                  WHERE p_envelope ? k),
        'success', p_envelope -> 'success',
        'error', jsonb_typeof(p_envelope -> 'error'),
        'error_code', p_envelope -> 'error_code',
        'retry_recommended', p_envelope -> 'retry_recommended')
$$;

CREATE FUNCTION pg_temp.success_shape()
RETURNS jsonb
LANGUAGE sql
AS $$
    SELECT '{"keys": ["error", "error_code", "retry_recommended", "success"], "success": true,
             "error": "null", "error_code": null, "retry_recommended": false}'::jsonb
$$;

CREATE FUNCTION pg_temp.failure_shape(p_sqlstate text)
RETURNS jsonb
LANGUAGE sql
AS $$
    SELECT jsonb_build_object('keys', '["error", "error_code", "retry_recommended", "success"]'::jsonb,
                              'success', false, 'error', 'string', 'error_code', p_sqlstate,
                              'retry_recommended', false)
$$;

-- call(label, sql): run one API call (a query returning the envelope), and keep the envelope
-- with the database state before and after it.
CREATE TEMP TABLE calls (
    label         text PRIMARY KEY,
    envelope      jsonb,
    state_before  jsonb,
    state_after   jsonb
);

CREATE PROCEDURE pg_temp.call(p_label text, p_sql text)
LANGUAGE plpgsql
AS $$
DECLARE
    v_before   jsonb := pg_temp.db_state();
    v_envelope jsonb;
BEGIN
    EXECUTE p_sql INTO v_envelope;
    INSERT INTO pg_temp.calls VALUES (p_label, v_envelope, v_before, pg_temp.db_state());
END
$$;

CREATE FUNCTION pg_temp.envelope(p_label text)
RETURNS jsonb
LANGUAGE sql
AS $$ SELECT c.envelope FROM pg_temp.calls AS c WHERE c.label = p_label $$;

-- rows_added(label): per table, how many rows the call added (tables it left alone omitted).
CREATE FUNCTION pg_temp.rows_added(p_label text)
RETURNS jsonb
LANGUAGE sql
AS $$
    SELECT COALESCE(jsonb_object_agg(a.key, (a.value ->> 'rows')::bigint
                                            - (c.state_before -> a.key ->> 'rows')::bigint), '{}')
      FROM pg_temp.calls AS c, jsonb_each(c.state_after) AS a
     WHERE c.label = p_label
       AND (a.value ->> 'rows') IS DISTINCT FROM (c.state_before -> a.key ->> 'rows')
$$;

-- changes(label): the tables whose rows the call changed, with their row counts before and
-- after; '{}' when the call wrote nothing.
CREATE FUNCTION pg_temp.changes(p_label text)
RETURNS jsonb
LANGUAGE sql
AS $$
    SELECT COALESCE(jsonb_object_agg(a.key, jsonb_build_object(
                        'rows_before', (c.state_before -> a.key -> 'rows'),
                        'rows_after', (a.value -> 'rows'))), '{}')
      FROM pg_temp.calls AS c, jsonb_each(c.state_after) AS a
     WHERE c.label = p_label
       AND a.value IS DISTINCT FROM (c.state_before -> a.key)
$$;

-- fails_with(case, sql, sqlstate): run the call, then two assertions: it answered an error
-- envelope with that SQLSTATE and retry_recommended false, and it wrote nothing.
CREATE FUNCTION pg_temp.fails_with(p_case text, p_sql text, p_sqlstate text)
RETURNS SETOF text
LANGUAGE plpgsql
AS $$
BEGIN
    CALL pg_temp.call(p_case, p_sql);
    RETURN NEXT is(pg_temp.envelope_shape(pg_temp.envelope(p_case)),
                   pg_temp.failure_shape(p_sqlstate),
                   p_case || ': error envelope with error_code ' || p_sqlstate
                          || ', retry_recommended false');
    RETURN NEXT is(pg_temp.changes(p_case), '{}'::jsonb, p_case || ': nothing written');
END
$$;

-- ===========================================================================================
-- Definition: signature, return type, volatility, SECURITY DEFINER, pinned search_path
-- ===========================================================================================
SELECT has_function('public', 'create_workspace', ARRAY['text', 'uuid'],
                    'public.create_workspace(text, uuid) exists');
SELECT function_returns('public', 'create_workspace', ARRAY['text', 'uuid'], 'jsonb',
                        'create_workspace returns jsonb');
SELECT volatility_is('public', 'create_workspace', ARRAY['text', 'uuid'], 'volatile',
                     'create_workspace is VOLATILE');
SELECT is_definer('public', 'create_workspace', ARRAY['text', 'uuid'],
                  'create_workspace is SECURITY DEFINER');
SELECT ok(EXISTS (SELECT 1 FROM unnest((SELECT p.proconfig FROM pg_catalog.pg_proc AS p
                                        WHERE p.oid = 'public.create_workspace(text, uuid)'::regprocedure)) AS c
                   WHERE c ~ '^search_path="?pg_catalog"?(\s*,\s*[^,]+)*\s*,\s*"?pg_temp"?$'),
          'create_workspace pins search_path to pg_catalog, ..., pg_temp');

-- ===========================================================================================
-- Privileges: campaigndb_app may EXECUTE; PUBLIC and campaigndb_readonly may not
-- ===========================================================================================
SELECT function_privs_are('public', 'create_workspace', ARRAY['text', 'uuid'],
                          'campaigndb_app', ARRAY['EXECUTE'],
                          'campaigndb_app may EXECUTE create_workspace');
SELECT function_privs_are('public', 'create_workspace', ARRAY['text', 'uuid'],
                          'public', ARRAY[]::name[],
                          'PUBLIC may not EXECUTE create_workspace');
SELECT function_privs_are('public', 'create_workspace', ARRAY['text', 'uuid'],
                          'campaigndb_readonly', ARRAY[]::name[],
                          'campaigndb_readonly may not EXECUTE create_workspace');

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
