-- execute_campaign_atomically(p_workspace_id uuid, p_workspace_n8n_workflow_id uuid,
--     p_campaign_approval_session_id uuid, p_campaign_name text, p_campaign_type text,
--     p_execution_config jsonb DEFAULT '{}', p_execution_id uuid DEFAULT NULL) -> jsonb
-- docs/contract.md section 3 (Campaign execution): locks the workflow row FOR UPDATE NOWAIT (busy:
-- 55P03, retry), inserts the execution, increments total_executions and last_executed_at and
-- writes an audit row, all or nothing; returns execution_id, execution_status,
-- total_executions, replayed.  Workflow absent or in another workspace: P0002; not active:
-- 55000; unknown campaign type: 23514; p_execution_id is the idempotency key (same id, same
-- parameters: replayed true; same id, other parameters: 23505).
-- Runs in one transaction that is rolled back.  The locked-workflow case needs a second
-- session: it opens one through dblink when the extension is available (skipped otherwise;
-- the Python tests cover it too).  That session commits a workspace of its own, used by no
-- other row of this file, and deletes it again.
BEGIN;
SELECT plan(96);

-- Shared test helpers (pg_temp functions, gone with the session)
\ir lib/helpers.psql

-- execution(id): the stored execution, as the function's caller would compare it
CREATE FUNCTION pg_temp.execution(p_id uuid)
RETURNS jsonb
LANGUAGE sql
AS $$
    SELECT jsonb_build_object('workspace_id', e.workspace_id,
                              'workspace_n8n_workflow_id', e.workspace_n8n_workflow_id,
                              'campaign_approval_session_id', e.campaign_approval_session_id,
                              'campaign_name', e.campaign_name, 'campaign_type', e.campaign_type,
                              'execution_status', e.execution_status,
                              'execution_config', e.execution_config,
                              'started_at_set', e.started_at IS NOT NULL,
                              'completed_at', e.completed_at, 'duration_ms', e.duration_ms,
                              'error_message', e.error_message)
      FROM campaigndb.n8n_campaign_executions AS e
     WHERE e.id = p_id
$$;

-- ===========================================================================================
-- Definition: signature, return type, volatility, SECURITY DEFINER, pinned search_path
-- ===========================================================================================
SELECT * FROM pg_temp.definition(
    'execute_campaign_atomically', ARRAY['uuid', 'uuid', 'uuid', 'text', 'text', 'jsonb', 'uuid'], 'jsonb', 'volatile');
SELECT is(pg_temp.search_path_of(
              'public.execute_campaign_atomically(uuid, uuid, uuid, text, text, jsonb, uuid)'),
          'pg_catalog, pg_temp', 'execute_campaign_atomically pins search_path = pg_catalog, pg_temp');
SELECT is((SELECT p.proargnames FROM pg_catalog.pg_proc AS p
            WHERE p.oid = 'public.execute_campaign_atomically(uuid, uuid, uuid, text, text, jsonb, uuid)'::regprocedure),
          ARRAY['p_workspace_id', 'p_workspace_n8n_workflow_id', 'p_campaign_approval_session_id',
                'p_campaign_name', 'p_campaign_type', 'p_execution_config', 'p_execution_id'],
          'execute_campaign_atomically: parameter names and order of the contract');

-- ===========================================================================================
-- Privileges: campaigndb_app may EXECUTE; PUBLIC and campaigndb_readonly may not
-- ===========================================================================================
SELECT * FROM pg_temp.execute_privileges(
    'execute_campaign_atomically', ARRAY['uuid', 'uuid', 'uuid', 'text', 'text', 'jsonb', 'uuid'], false);

-- ===========================================================================================
-- Setup: workspace A with an active email workflow, a second active one (for the app role),
-- a paused, an inactive and an archived one; workspace B with an active sms workflow
-- ===========================================================================================
\ir lib/workspaces.psql
SELECT is(ARRAY(SELECT r.n8n_id
                  FROM (VALUES ('aaaaaaaa-0000-4000-8000-000000000001'::uuid, 'a-email', 'email', 'active'),
                               ('aaaaaaaa-0000-4000-8000-000000000001', 'a-app', 'sms', 'active'),
                               ('aaaaaaaa-0000-4000-8000-000000000001', 'a-paused', 'email', 'paused'),
                               ('aaaaaaaa-0000-4000-8000-000000000001', 'a-inactive', 'email', 'inactive'),
                               ('aaaaaaaa-0000-4000-8000-000000000001', 'a-archived', 'email', 'archived'),
                               ('bbbbbbbb-0000-4000-8000-000000000002', 'b-sms', 'sms', 'active'))
                       AS r(ws, n8n_id, ctype, status)
                 WHERE register_n8n_workflow(r.ws, r.n8n_id, 'Workflow ' || r.n8n_id, r.ctype, r.status)
                       ->> 'success' IS DISTINCT FROM 'true'),
          ARRAY[]::text[], 'setup: six workflows registered');

SELECT is(pg_temp.call_as('campaigndb_app', format($$
              SELECT execute_campaign_atomically('aaaaaaaa-0000-4000-8000-000000000001', %L, NULL,
                                                 'Launched by the app role', 'sms')$$,
                                                 pg_temp.wf('a-app'))) - 'execution_id',
          '{"success": true, "error": null, "error_code": null, "retry_recommended": false,
            "execution_status": "pending", "total_executions": 1, "replayed": false}'::jsonb,
          'campaigndb_app, which holds no table privilege, launches an execution through the function');
SELECT is(pg_temp.call_as('campaigndb_readonly', format($$
              SELECT execute_campaign_atomically('aaaaaaaa-0000-4000-8000-000000000001', %L, NULL,
                                                 'Launched by the readonly role', 'sms')$$,
                                                 pg_temp.wf('a-app'))) ->> 'raised',
          '42501', 'campaigndb_readonly is refused EXECUTE on execute_campaign_atomically (42501)');

-- ===========================================================================================
-- Happy path: the execution row, the workflow's counters and the audit row, in one call
-- ===========================================================================================
SELECT is(pg_temp.wf('a-email') IS NOT NULL AND (SELECT w.total_executions = 0 AND w.last_executed_at IS NULL
                                                   FROM campaigndb.workspace_n8n_workflows AS w
                                                  WHERE w.id = pg_temp.wf('a-email')),
          true, 'before: workflow a-email has total_executions 0 and no last_executed_at');

CALL pg_temp.call('first', format($$
    SELECT execute_campaign_atomically(
        p_workspace_id => 'aaaaaaaa-0000-4000-8000-000000000001',
        p_workspace_n8n_workflow_id => %L,
        p_campaign_approval_session_id => 'cccccccc-0000-4000-8000-000000000001',
        p_campaign_name => 'Spring promo', p_campaign_type => 'email',
        p_execution_config => '{"batch": 50, "tags": ["spring"]}',
        p_execution_id => 'e1e1e1e1-0000-4000-8000-000000000001')
$$, pg_temp.wf('a-email')));

SELECT is(pg_temp.envelope('first'),
          '{"success": true, "error": null, "error_code": null, "retry_recommended": false,
            "execution_id": "e1e1e1e1-0000-4000-8000-000000000001", "execution_status": "pending",
            "total_executions": 1, "replayed": false}'::jsonb,
          'first: success with execution_id (the given p_execution_id), execution_status pending, '
          'total_executions 1, replayed false');
SELECT is(pg_temp.execution('e1e1e1e1-0000-4000-8000-000000000001'),
          jsonb_build_object('workspace_id', 'aaaaaaaa-0000-4000-8000-000000000001',
                             'workspace_n8n_workflow_id', pg_temp.wf('a-email'),
                             'campaign_approval_session_id', 'cccccccc-0000-4000-8000-000000000001',
                             'campaign_name', 'Spring promo', 'campaign_type', 'email',
                             'execution_status', 'pending',
                             'execution_config', '{"batch": 50, "tags": ["spring"]}'::jsonb,
                             'started_at_set', true, 'completed_at', NULL, 'duration_ms', NULL,
                             'error_message', NULL),
          'first: the execution row holds the call''s values, pending, started, not completed');
SELECT is((SELECT jsonb_build_object('total_executions', w.total_executions,
                                     'last_executed_at_is_now', w.last_executed_at = now())
             FROM campaigndb.workspace_n8n_workflows AS w WHERE w.id = pg_temp.wf('a-email')),
          '{"total_executions": 1, "last_executed_at_is_now": true}'::jsonb,
          'first: the workflow''s total_executions went 0 -> 1 and last_executed_at is set');
SELECT is(pg_temp.rows_added('first'),
          '{"n8n_campaign_executions": 1, "workflow_deployment_history": 1}'::jsonb,
          'first: exactly one execution row and one audit row added');
SELECT is(ARRAY(SELECT jsonb_object_keys(pg_temp.changes('first')) ORDER BY 1),
          ARRAY['n8n_campaign_executions', 'workflow_deployment_history', 'workspace_n8n_workflows'],
          'first: the execution, the audit trail and the workflow changed in the one call, '
          'nothing else');
SELECT is((SELECT jsonb_agg(jsonb_build_object('workspace_id', h.workspace_id,
                                               'workflow_id', h.workflow_id,
                                               'event_type', h.event_type,
                                               'campaign_name', h.details -> 'campaign_name'))
             FROM campaigndb.workflow_deployment_history AS h
            WHERE h.execution_id = 'e1e1e1e1-0000-4000-8000-000000000001'),
          jsonb_build_array(jsonb_build_object('workspace_id', 'aaaaaaaa-0000-4000-8000-000000000001',
                                               'workflow_id', pg_temp.wf('a-email'),
                                               'event_type', 'campaign_execution_started',
                                               'campaign_name', 'Spring promo')),
          'first: one audit row campaign_execution_started for the execution and its workflow');

CALL pg_temp.call('second', format($$
    SELECT execute_campaign_atomically('aaaaaaaa-0000-4000-8000-000000000001', %L, NULL,
                                       'Summer promo', 'linkedin')
$$, pg_temp.wf('a-email')));
SELECT is(pg_temp.envelope('second') - 'execution_id',
          '{"success": true, "error": null, "error_code": null, "retry_recommended": false,
            "execution_status": "pending", "total_executions": 2, "replayed": false}'::jsonb,
          'second (no p_execution_id, default config): total_executions 2');
SELECT ok(pg_temp.envelope('second') ->> 'execution_id'
              ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
          AND pg_temp.envelope('second') ->> 'execution_id' <> 'e1e1e1e1-0000-4000-8000-000000000001',
          'second: a new execution_id is generated');
SELECT is(pg_temp.execution((pg_temp.envelope('second') ->> 'execution_id')::uuid)
              -> 'execution_config', '{}'::jsonb,
          'second: p_execution_config defaults to {}');
SELECT is(pg_temp.rows_added('second'),
          '{"n8n_campaign_executions": 1, "workflow_deployment_history": 1}'::jsonb,
          'second: one execution row and one audit row added');

CALL pg_temp.call('NULL config', format($$
    SELECT execute_campaign_atomically('aaaaaaaa-0000-4000-8000-000000000001', %L, NULL,
                                       'Null config', 'gmaps', NULL,
                                       'e3e3e3e3-0000-4000-8000-000000000003')
$$, pg_temp.wf('a-email')));
SELECT is(pg_temp.envelope('NULL config') -> 'total_executions', '3'::jsonb,
          'NULL config: accepted, total_executions 3');
SELECT is(pg_temp.execution('e3e3e3e3-0000-4000-8000-000000000003') -> 'execution_config',
          '{}'::jsonb, 'NULL config: stored as {}');

-- ===========================================================================================
-- Idempotency: the same p_execution_id with the same parameters replays
-- ===========================================================================================
CALL pg_temp.call('replay', format($$
    SELECT execute_campaign_atomically('aaaaaaaa-0000-4000-8000-000000000001', %L,
                                       'cccccccc-0000-4000-8000-000000000001', 'Spring promo',
                                       'email', '{"tags": ["spring"],   "batch": 50}',
                                       'e1e1e1e1-0000-4000-8000-000000000001')
$$, pg_temp.wf('a-email')));
SELECT is(pg_temp.envelope('replay'), pg_temp.envelope('first') || '{"replayed": true}'::jsonb,
          'replay (config with other key order and spacing): the first result with replayed true');
SELECT is(pg_temp.changes('replay'), '{}'::jsonb,
          'replay: nothing written (no execution, no audit row, total_executions unchanged)');

CALL pg_temp.call('replay with explicit {} config', format($$
    SELECT execute_campaign_atomically('aaaaaaaa-0000-4000-8000-000000000001', %L, NULL,
                                       'Null config', 'gmaps', '{}',
                                       'e3e3e3e3-0000-4000-8000-000000000003')
$$, pg_temp.wf('a-email')));
SELECT is(pg_temp.envelope('replay with explicit {} config'),
          pg_temp.envelope('NULL config') || '{"replayed": true}'::jsonb,
          'replay with {} of a call made with a NULL config: replayed true');
SELECT is(pg_temp.changes('replay with explicit {} config'), '{}'::jsonb,
          'replay with explicit {} config: nothing written');

SELECT * FROM pg_temp.fails_with('same id, other config', format($$
    SELECT execute_campaign_atomically('aaaaaaaa-0000-4000-8000-000000000001', %L,
                                       'cccccccc-0000-4000-8000-000000000001', 'Spring promo',
                                       'email', '{"batch": 51, "tags": ["spring"]}',
                                       'e1e1e1e1-0000-4000-8000-000000000001')
$$, pg_temp.wf('a-email')), '23505');
SELECT * FROM pg_temp.fails_with('same id, other campaign name', format($$
    SELECT execute_campaign_atomically('aaaaaaaa-0000-4000-8000-000000000001', %L,
                                       'cccccccc-0000-4000-8000-000000000001', 'Autumn promo',
                                       'email', '{"batch": 50, "tags": ["spring"]}',
                                       'e1e1e1e1-0000-4000-8000-000000000001')
$$, pg_temp.wf('a-email')), '23505');
SELECT * FROM pg_temp.fails_with('same id, other approval session', format($$
    SELECT execute_campaign_atomically('aaaaaaaa-0000-4000-8000-000000000001', %L, NULL,
                                       'Spring promo', 'email', '{"batch": 50, "tags": ["spring"]}',
                                       'e1e1e1e1-0000-4000-8000-000000000001')
$$, pg_temp.wf('a-email')), '23505');
SELECT * FROM pg_temp.fails_with('same id, other campaign type', format($$
    SELECT execute_campaign_atomically('aaaaaaaa-0000-4000-8000-000000000001', %L,
                                       'cccccccc-0000-4000-8000-000000000001', 'Spring promo',
                                       'sms', '{"batch": 50, "tags": ["spring"]}',
                                       'e1e1e1e1-0000-4000-8000-000000000001')
$$, pg_temp.wf('a-email')), '23505');
SELECT * FROM pg_temp.fails_with('same id, other workflow', format($$
    SELECT execute_campaign_atomically('aaaaaaaa-0000-4000-8000-000000000001', %L,
                                       'cccccccc-0000-4000-8000-000000000001', 'Spring promo',
                                       'email', '{"batch": 50, "tags": ["spring"]}',
                                       'e1e1e1e1-0000-4000-8000-000000000001')
$$, pg_temp.wf('a-app')), '23505');
-- execution ids are keys per workspace (revision 0007, docs/tenancy.md): B's own key,
-- its execution gets an id of its own
CALL pg_temp.call('same id, other workspace', format($$
    SELECT execute_campaign_atomically('bbbbbbbb-0000-4000-8000-000000000002', %L,
                                       'cccccccc-0000-4000-8000-000000000001', 'Spring promo',
                                       'email', '{"batch": 50, "tags": ["spring"]}',
                                       'e1e1e1e1-0000-4000-8000-000000000001')
$$, pg_temp.wf('b-sms')));
SELECT is(pg_temp.envelope('same id, other workspace') ->> 'success', 'true',
          'same id, other workspace: a key of that workspace, launched');
SELECT isnt(pg_temp.envelope('same id, other workspace') ->> 'execution_id',
            'e1e1e1e1-0000-4000-8000-000000000001',
            'same id, other workspace: a new id, A''s execution is never named');

-- A replay after the execution finished still answers the first execution (no new row)
SELECT is(complete_campaign_execution('e1e1e1e1-0000-4000-8000-000000000001', 'completed')
              ->> 'success', 'true', 'setup: execution e1 completed');
CALL pg_temp.call('replay after completion', format($$
    SELECT execute_campaign_atomically('aaaaaaaa-0000-4000-8000-000000000001', %L,
                                       'cccccccc-0000-4000-8000-000000000001', 'Spring promo',
                                       'email', '{"batch": 50, "tags": ["spring"]}',
                                       'e1e1e1e1-0000-4000-8000-000000000001')
$$, pg_temp.wf('a-email')));
SELECT is(pg_temp.envelope('replay after completion') - 'execution_status',
          pg_temp.envelope('first') - 'execution_status' || '{"replayed": true}'::jsonb,
          'replay after completion: the first execution_id and total_executions, replayed true');
SELECT is(pg_temp.changes('replay after completion'), '{}'::jsonb,
          'replay after completion: nothing written');

-- ===========================================================================================
-- Errors: workflow absent or in another workspace (P0002), not active (55000), unknown
-- campaign type (23514), bad parameters; envelope, retry_recommended false, nothing written
-- ===========================================================================================
SELECT * FROM pg_temp.fails_with('unknown workflow', $$
    SELECT execute_campaign_atomically('aaaaaaaa-0000-4000-8000-000000000001',
                                       'eeeeeeee-0000-4000-8000-00000000000e', NULL, 'X', 'email')
$$, 'P0002');
SELECT * FROM pg_temp.fails_with('workflow of workspace B, launched in workspace A', format($$
    SELECT execute_campaign_atomically('aaaaaaaa-0000-4000-8000-000000000001', %L, NULL, 'X', 'sms')
$$, pg_temp.wf('b-sms')), 'P0002');
SELECT * FROM pg_temp.fails_with('workflow of workspace A, launched in workspace B', format($$
    SELECT execute_campaign_atomically('bbbbbbbb-0000-4000-8000-000000000002', %L, NULL, 'X', 'email')
$$, pg_temp.wf('a-email')), 'P0002');
SELECT * FROM pg_temp.fails_with('unknown workflow with a new p_execution_id', $$
    SELECT execute_campaign_atomically('aaaaaaaa-0000-4000-8000-000000000001',
                                       'eeeeeeee-0000-4000-8000-00000000000e', NULL, 'X', 'email',
                                       '{}', 'e9e9e9e9-0000-4000-8000-000000000009')
$$, 'P0002');
SELECT * FROM pg_temp.fails_with('paused workflow', format($$
    SELECT execute_campaign_atomically('aaaaaaaa-0000-4000-8000-000000000001', %L, NULL, 'X', 'email')
$$, pg_temp.wf('a-paused')), '55000');
SELECT * FROM pg_temp.fails_with('inactive workflow', format($$
    SELECT execute_campaign_atomically('aaaaaaaa-0000-4000-8000-000000000001', %L, NULL, 'X', 'email')
$$, pg_temp.wf('a-inactive')), '55000');
SELECT * FROM pg_temp.fails_with('archived workflow', format($$
    SELECT execute_campaign_atomically('aaaaaaaa-0000-4000-8000-000000000001', %L, NULL, 'X', 'email')
$$, pg_temp.wf('a-archived')), '55000');
SELECT * FROM pg_temp.fails_with('unknown campaign type', format($$
    SELECT execute_campaign_atomically('aaaaaaaa-0000-4000-8000-000000000001', %L, NULL, 'X', 'fax')
$$, pg_temp.wf('a-email')), '23514');
SELECT * FROM pg_temp.fails_with('campaign type in capitals', format($$
    SELECT execute_campaign_atomically('aaaaaaaa-0000-4000-8000-000000000001', %L, NULL, 'X', 'Email')
$$, pg_temp.wf('a-email')), '23514');
SELECT * FROM pg_temp.fails_with('NULL workspace', format($$
    SELECT execute_campaign_atomically(NULL, %L, NULL, 'X', 'email')
$$, pg_temp.wf('a-email')), '23502');
SELECT * FROM pg_temp.fails_with('NULL workflow', $$
    SELECT execute_campaign_atomically('aaaaaaaa-0000-4000-8000-000000000001', NULL, NULL, 'X', 'email')
$$, '23502');
SELECT * FROM pg_temp.fails_with('blank campaign name', format($$
    SELECT execute_campaign_atomically('aaaaaaaa-0000-4000-8000-000000000001', %L, NULL, ' ', 'email')
$$, pg_temp.wf('a-email')), '23502');
SELECT * FROM pg_temp.fails_with('campaign name longer than 500 characters', format($$
    SELECT execute_campaign_atomically('aaaaaaaa-0000-4000-8000-000000000001', %L, NULL,
                                       repeat('n', 501), 'email')
$$, pg_temp.wf('a-email')), '22023');
SELECT * FROM pg_temp.fails_with('NULL campaign type', format($$
    SELECT execute_campaign_atomically('aaaaaaaa-0000-4000-8000-000000000001', %L, NULL, 'X', NULL)
$$, pg_temp.wf('a-email')), '23502');
SELECT * FROM pg_temp.fails_with('config is an array', format($$
    SELECT execute_campaign_atomically('aaaaaaaa-0000-4000-8000-000000000001', %L, NULL, 'X',
                                       'email', '[1, 2]')
$$, pg_temp.wf('a-email')), '22023');

-- ===========================================================================================
-- Workspace binding (campaigndb.workspace_id)
-- ===========================================================================================
SET LOCAL campaigndb.workspace_id = 'bbbbbbbb-0000-4000-8000-000000000002';
SELECT * FROM pg_temp.fails_with('bound to workspace B, an execution in workspace A', format($$
    SELECT execute_campaign_atomically('aaaaaaaa-0000-4000-8000-000000000001', %L, NULL, 'X', 'email')
$$, pg_temp.wf('a-email')), '42501');
SELECT * FROM pg_temp.fails_with('bound to workspace B, a replay of workspace A''s execution', format($$
    SELECT execute_campaign_atomically('aaaaaaaa-0000-4000-8000-000000000001', %L,
                                       'cccccccc-0000-4000-8000-000000000001', 'Spring promo',
                                       'email', '{"batch": 50, "tags": ["spring"]}',
                                       'e1e1e1e1-0000-4000-8000-000000000001')
$$, pg_temp.wf('a-email')), '42501');
-- (B used that id itself above: its own key, other parameters)
SELECT * FROM pg_temp.fails_with('bound to workspace B, workspace B''s parameters with the id of '
                                 'workspace A''s execution', format($$
    SELECT execute_campaign_atomically('bbbbbbbb-0000-4000-8000-000000000002', %L, NULL, 'X', 'sms',
                                       '{}', 'e1e1e1e1-0000-4000-8000-000000000001')
$$, pg_temp.wf('b-sms')), '23505');
CALL pg_temp.call('bound to workspace B, an execution in workspace B', format($$
    SELECT execute_campaign_atomically('bbbbbbbb-0000-4000-8000-000000000002', %L, NULL, 'B run', 'sms')
$$, pg_temp.wf('b-sms')));
SELECT is(pg_temp.envelope('bound to workspace B, an execution in workspace B') - 'execution_id',
          '{"success": true, "error": null, "error_code": null, "retry_recommended": false,
            "execution_status": "pending", "total_executions": 2, "replayed": false}'::jsonb,
          'bound to workspace B: an execution in workspace B is launched');
SELECT is(pg_temp.rows_added('bound to workspace B, an execution in workspace B'),
          '{"n8n_campaign_executions": 1, "workflow_deployment_history": 1}'::jsonb,
          'bound to workspace B: its execution and audit rows are written');

SET LOCAL campaigndb.workspace_id = 'not-a-uuid';
SELECT * FROM pg_temp.fails_with('garbage campaigndb.workspace_id', format($$
    SELECT execute_campaign_atomically('aaaaaaaa-0000-4000-8000-000000000001', %L, NULL, 'X', 'email')
$$, pg_temp.wf('a-email')), '22023');
RESET campaigndb.workspace_id;

-- ===========================================================================================
-- A workflow locked by another session: 55P03 at once (NOWAIT), retry_recommended true
-- ===========================================================================================
-- The lock must be held by another transaction: a second session through dblink, when the
-- extension can be installed (in its own schema, dropped with this file's transaction).
DO $do$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_available_extensions WHERE name = 'dblink')
       AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'dblink') THEN
        CREATE SCHEMA pgtap_dblink;
        CREATE EXTENSION dblink SCHEMA pgtap_dblink;
    END IF;
END
$do$;

CREATE FUNCTION pg_temp.locked_workflow_case()
RETURNS SETOF text
LANGUAGE plpgsql
AS $$
DECLARE
    v_schema   text := (SELECT n.nspname::text FROM pg_catalog.pg_extension AS e
                          JOIN pg_catalog.pg_namespace AS n ON n.oid = e.extnamespace
                         WHERE e.extname = 'dblink');
    v_conninfo text := format('dbname=%s port=%s user=%s host=%s application_name=pgtap_lock_holder',
                              current_database(), current_setting('port'), session_user,
                              COALESCE(host(inet_server_addr()),
                                       split_part(current_setting('unix_socket_directories'), ',', 1)));
    v_lock_timeout text := current_setting('lock_timeout');
    v_started  timestamptz;
    v_elapsed  interval;
BEGIN
    IF v_schema IS NULL THEN
        RETURN NEXT skip('dblink is not available: the locked-workflow case needs a second '
                         'session (covered by the Python tests)', 6);
        RETURN;
    END IF;
    BEGIN
        EXECUTE format('SELECT %I.dblink_connect(%L, %L)', v_schema, 'pgtap_lock_holder', v_conninfo);
    EXCEPTION WHEN OTHERS THEN
        RETURN NEXT skip('dblink cannot open a second session (' || SQLERRM || ')', 6);
        RETURN;
    END;
    -- the second session commits a workspace and an active workflow of its own (ids used
    -- nowhere else, so that neither session waits for the other's uncommitted rows) ...
    EXECUTE format('SELECT %I.dblink_exec(%L, %L)', v_schema, 'pgtap_lock_holder', $sql$
        DELETE FROM campaigndb.workspaces WHERE id = 'dddddddd-0000-4000-8000-00000000000d';
        INSERT INTO campaigndb.workspaces (id, name)
        VALUES ('dddddddd-0000-4000-8000-00000000000d', 'Lock holder');
        INSERT INTO campaigndb.workspace_n8n_workflows
               (id, workspace_id, n8n_workflow_id, name, campaign_type, deployment_status)
        VALUES ('dddddddd-1111-4000-8000-00000000000d', 'dddddddd-0000-4000-8000-00000000000d',
                'locked', 'Locked workflow', 'email', 'active')$sql$);
    -- ... and holds the workflow row FOR UPDATE in an open transaction
    EXECUTE format('SELECT %I.dblink_exec(%L, %L)', v_schema, 'pgtap_lock_holder', 'BEGIN');
    EXECUTE format('SELECT count(*) FROM %I.dblink(%L, %L) AS t(locked int)', v_schema,
                   'pgtap_lock_holder', $sql$
        SELECT 1 FROM campaigndb.workspace_n8n_workflows
         WHERE id = 'dddddddd-1111-4000-8000-00000000000d' FOR UPDATE$sql$);

    -- a lock_timeout only so that a missing NOWAIT cannot hang the suite: NOWAIT answers at once
    PERFORM set_config('lock_timeout', '3s', true);
    v_started := clock_timestamp();
    RETURN QUERY SELECT * FROM pg_temp.fails_retryable('workflow locked by another session', $sql$
        SELECT execute_campaign_atomically('dddddddd-0000-4000-8000-00000000000d',
                                           'dddddddd-1111-4000-8000-00000000000d', NULL,
                                           'Blocked', 'email')
    $sql$, '55P03');
    v_elapsed := clock_timestamp() - v_started;
    PERFORM set_config('lock_timeout', v_lock_timeout, true);
    RETURN NEXT ok(v_elapsed < interval '1 second',
                   'workflow locked by another session: answered at once (NOWAIT), not after '
                   'waiting for the lock');

    -- Another workspace's busy workflow: not found (P0002), never locked nor revealed.
    PERFORM set_config('lock_timeout', '3s', true);
    RETURN QUERY SELECT * FROM pg_temp.fails_with('another workspace''s workflow, locked by another session', $sql$
        SELECT execute_campaign_atomically('aaaaaaaa-0000-4000-8000-000000000001',
                                           'dddddddd-1111-4000-8000-00000000000d', NULL,
                                           'Probe', 'email')
    $sql$, 'P0002');
    PERFORM set_config('lock_timeout', v_lock_timeout, true);

    EXECUTE format('SELECT %I.dblink_exec(%L, %L)', v_schema, 'pgtap_lock_holder', 'ROLLBACK');
    EXECUTE format('SELECT %I.dblink_exec(%L, %L)', v_schema, 'pgtap_lock_holder', $sql$
        DELETE FROM campaigndb.workspaces WHERE id = 'dddddddd-0000-4000-8000-00000000000d'$sql$);
    EXECUTE format('SELECT %I.dblink_disconnect(%L)', v_schema, 'pgtap_lock_holder');
END
$$;

SELECT * FROM pg_temp.locked_workflow_case();
SELECT is((SELECT count(*) FROM campaigndb.workspaces
            WHERE id = 'dddddddd-0000-4000-8000-00000000000d'),
          0::bigint, 'the second session''s workspace is gone again');

-- ===========================================================================================
-- A parameter that cannot be cast raises before the function runs (no envelope possible)
-- ===========================================================================================
SELECT throws_ok($$SELECT execute_campaign_atomically(
                       p_workspace_id => 'aaaaaaaa-0000-4000-8000-000000000001',
                       p_workspace_n8n_workflow_id => 'nope', p_campaign_approval_session_id => NULL,
                       p_campaign_name => 'X', p_campaign_type => 'email')$$,
                 '22P02', NULL,
                 'p_workspace_n8n_workflow_id => ''nope'' raises 22P02 (cast failure before the call)');

-- ===========================================================================================
-- The invariant at the end: every workflow's total_executions is the count of its executions
-- ===========================================================================================
SELECT is(ARRAY(SELECT w.n8n_workflow_id || ': ' || w.total_executions || ' <> '
                       || (SELECT count(*) FROM campaigndb.n8n_campaign_executions AS e
                            WHERE e.workspace_n8n_workflow_id = w.id)
                  FROM campaigndb.workspace_n8n_workflows AS w
                 WHERE w.total_executions <> (SELECT count(*) FROM campaigndb.n8n_campaign_executions AS e
                                               WHERE e.workspace_n8n_workflow_id = w.id)
                 ORDER BY 1),
          ARRAY[]::text[],
          'every workflow''s total_executions equals the count of its executions');
SELECT is((SELECT array_agg(e.execution_number ORDER BY e.execution_number)
             FROM campaigndb.n8n_campaign_executions AS e
            WHERE e.workspace_n8n_workflow_id = pg_temp.wf('a-email')),
          ARRAY[1, 2, 3], 'workflow a-email''s executions are numbered 1, 2, 3');

SELECT * FROM finish();
ROLLBACK;
