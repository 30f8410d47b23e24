-- register_n8n_workflow(p_workspace_id uuid, p_n8n_workflow_id text, p_name text,
--                       p_campaign_type text, p_deployment_status text DEFAULT 'active')
--   -> jsonb
-- docs/contract.md section 3 (Campaign execution): returns workflow_id.  Keyed by (workspace_id,
-- n8n_workflow_id): the same values again answer the same workflow_id with replayed: true and
-- write nothing; other values update name, type and status (updated: true).  Each change
-- writes an audit row (workflow_registered / workflow_updated).  23514 for an unknown campaign
-- type or deployment status, 23503 for an unknown workspace.
-- Runs in one transaction that is rolled back.
BEGIN;
SELECT plan(68);

-- Shared test helpers (pg_temp functions, gone with the session)
\ir lib/helpers.psql

-- audit(workflow_id): the workflow's audit trail, oldest first (event_type and details)
CREATE FUNCTION pg_temp.audit(p_workflow_id uuid)
RETURNS jsonb
LANGUAGE sql
AS $$
    SELECT COALESCE(jsonb_agg(jsonb_build_object('event_type', h.event_type,
                                                 'execution_id', h.execution_id,
                                                 'workspace_id', h.workspace_id,
                                                 'details', h.details) ORDER BY h.id), '[]')
      FROM campaigndb.workflow_deployment_history AS h
     WHERE h.workflow_id = p_workflow_id
$$;

-- workflow(workflow_id): the registered values of a workflow
CREATE FUNCTION pg_temp.workflow(p_workflow_id uuid)
RETURNS jsonb
LANGUAGE sql
AS $$
    SELECT jsonb_build_object('workspace_id', w.workspace_id, 'n8n_workflow_id', w.n8n_workflow_id,
                              'name', w.name, 'campaign_type', w.campaign_type,
                              'deployment_status', w.deployment_status,
                              'total_executions', w.total_executions,
                              'last_executed_at', w.last_executed_at)
      FROM campaigndb.workspace_n8n_workflows AS w
     WHERE w.id = p_workflow_id
$$;

-- ===========================================================================================
-- Definition: signature, return type, volatility, SECURITY DEFINER, pinned search_path
-- ===========================================================================================
SELECT * FROM pg_temp.definition(
    'register_n8n_workflow', ARRAY['uuid', 'text', 'text', 'text', 'text'], 'jsonb', 'volatile');
SELECT is(pg_temp.search_path_of('public.register_n8n_workflow(uuid, text, text, text, text)'),
          'pg_catalog, pg_temp', 'register_n8n_workflow pins search_path = pg_catalog, pg_temp');
SELECT is((SELECT p.proargnames FROM pg_catalog.pg_proc AS p
            WHERE p.oid = 'public.register_n8n_workflow(uuid, text, text, text, text)'::regprocedure),
          ARRAY['p_workspace_id', 'p_n8n_workflow_id', 'p_name', 'p_campaign_type',
                'p_deployment_status'],
          'register_n8n_workflow: parameter names and order of the contract');

-- ===========================================================================================
-- Privileges: campaigndb_app may EXECUTE; PUBLIC and campaigndb_readonly may not
-- ===========================================================================================
SELECT * FROM pg_temp.execute_privileges(
    'register_n8n_workflow', ARRAY['uuid', 'text', 'text', 'text', 'text'], false);

-- ===========================================================================================
-- Setup: workspaces A and B
-- ===========================================================================================
\ir lib/workspaces.psql

SELECT is(pg_temp.envelope_shape(pg_temp.call_as('campaigndb_app', $$
              SELECT register_n8n_workflow('aaaaaaaa-0000-4000-8000-000000000001', 'n8n-app',
                                           'Registered by the app role', 'sms')$$)),
          pg_temp.success_shape(),
          'campaigndb_app, which holds no table privilege, registers a workflow through the function');
SELECT is(pg_temp.call_as('campaigndb_readonly', $$
              SELECT register_n8n_workflow('aaaaaaaa-0000-4000-8000-000000000001', 'n8n-ro',
                                           'Registered by the readonly role', 'sms')$$) ->> 'raised',
          '42501', 'campaigndb_readonly is refused EXECUTE on register_n8n_workflow (42501)');

-- ===========================================================================================
-- Happy path: a new workflow (deployment status defaults to active)
-- ===========================================================================================
CALL pg_temp.call('register', $$
    SELECT register_n8n_workflow(p_workspace_id => 'aaaaaaaa-0000-4000-8000-000000000001',
                                 p_n8n_workflow_id => 'n8n-email-1', p_name => 'Email blast',
                                 p_campaign_type => 'email')
$$);
SELECT is(pg_temp.envelope_shape(pg_temp.envelope('register')), pg_temp.success_shape(),
          'register: success envelope with success, error, error_code, retry_recommended');
SELECT ok(pg_temp.envelope('register') ->> 'workflow_id'
              ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$',
          'register: workflow_id is a uuid');
SELECT is(pg_temp.envelope('register') - 'workflow_id',
          '{"success": true, "error": null, "error_code": null, "retry_recommended": false,
            "replayed": false, "updated": false}'::jsonb,
          'register: replayed false, updated false');
SELECT is(pg_temp.workflow((pg_temp.envelope('register') ->> 'workflow_id')::uuid),
          '{"workspace_id": "aaaaaaaa-0000-4000-8000-000000000001", "n8n_workflow_id": "n8n-email-1",
            "name": "Email blast", "campaign_type": "email", "deployment_status": "active",
            "total_executions": 0, "last_executed_at": null}'::jsonb,
          'register: the workflow row holds the call''s values, status active by default, '
          'no executions yet');
SELECT is(pg_temp.rows_added('register'),
          '{"workspace_n8n_workflows": 1, "workflow_deployment_history": 1}'::jsonb,
          'register: one workflow row and one audit row added');
SELECT is(pg_temp.audit((pg_temp.envelope('register') ->> 'workflow_id')::uuid),
          '[{"event_type": "workflow_registered", "execution_id": null,
             "workspace_id": "aaaaaaaa-0000-4000-8000-000000000001",
             "details": {"n8n_workflow_id": "n8n-email-1", "name": "Email blast",
                         "campaign_type": "email", "deployment_status": "active"}}]'::jsonb,
          'register: the audit row is workflow_registered with the registered values');

-- ===========================================================================================
-- Replay: the same values again (status given explicitly or by default)
-- ===========================================================================================
CALL pg_temp.call('replay', $$
    SELECT register_n8n_workflow('aaaaaaaa-0000-4000-8000-000000000001', 'n8n-email-1',
                                 'Email blast', 'email')
$$);
CALL pg_temp.call('replay with explicit active', $$
    SELECT register_n8n_workflow('aaaaaaaa-0000-4000-8000-000000000001', 'n8n-email-1',
                                 'Email blast', 'email', 'active')
$$);
SELECT is(pg_temp.envelope('replay'),
          pg_temp.envelope('register') || '{"replayed": true}'::jsonb,
          'replay: the same workflow_id, replayed true, updated false');
SELECT is(pg_temp.changes('replay'), '{}'::jsonb, 'replay: nothing written (no new audit row)');
SELECT is(pg_temp.envelope('replay with explicit active'),
          pg_temp.envelope('register') || '{"replayed": true}'::jsonb,
          'replay with p_deployment_status => ''active'' given: replayed true');
SELECT is(pg_temp.changes('replay with explicit active'), '{}'::jsonb,
          'replay with explicit active: nothing written');

-- ===========================================================================================
-- Update (a redeploy): other values update the row and write a workflow_updated audit row
-- ===========================================================================================
CALL pg_temp.call('rename', $$
    SELECT register_n8n_workflow('aaaaaaaa-0000-4000-8000-000000000001', 'n8n-email-1',
                                 'Email blast v2', 'email')
$$);
SELECT is(pg_temp.envelope('rename'),
          pg_temp.envelope('register') || '{"updated": true}'::jsonb,
          'rename: the same workflow_id, updated true, replayed false');
SELECT is(pg_temp.workflow((pg_temp.envelope('register') ->> 'workflow_id')::uuid) ->> 'name',
          'Email blast v2', 'rename: the name is updated');
SELECT is(pg_temp.rows_added('rename'), '{"workflow_deployment_history": 1}'::jsonb,
          'rename: no new workflow row, one audit row added');
SELECT is(pg_temp.audit((pg_temp.envelope('register') ->> 'workflow_id')::uuid) -> 1,
          '{"event_type": "workflow_updated", "execution_id": null,
            "workspace_id": "aaaaaaaa-0000-4000-8000-000000000001",
            "details": {"n8n_workflow_id": "n8n-email-1", "name": "Email blast v2",
                        "campaign_type": "email", "deployment_status": "active"}}'::jsonb,
          'rename: the audit row is workflow_updated with the new values');

CALL pg_temp.call('pause', $$
    SELECT register_n8n_workflow('aaaaaaaa-0000-4000-8000-000000000001', 'n8n-email-1',
                                 'Email blast v2', 'multichannel', 'paused')
$$);
SELECT is(pg_temp.envelope('pause'),
          pg_temp.envelope('register') || '{"updated": true}'::jsonb,
          'pause (type and status changed): updated true');
SELECT is(pg_temp.workflow((pg_temp.envelope('register') ->> 'workflow_id')::uuid),
          '{"workspace_id": "aaaaaaaa-0000-4000-8000-000000000001", "n8n_workflow_id": "n8n-email-1",
            "name": "Email blast v2", "campaign_type": "multichannel", "deployment_status": "paused",
            "total_executions": 0, "last_executed_at": null}'::jsonb,
          'pause: campaign_type multichannel and deployment_status paused stored');
SELECT is(pg_temp.rows_added('pause'), '{"workflow_deployment_history": 1}'::jsonb,
          'pause: one audit row added');
CALL pg_temp.call('pause again', $$
    SELECT register_n8n_workflow('aaaaaaaa-0000-4000-8000-000000000001', 'n8n-email-1',
                                 'Email blast v2', 'multichannel', 'paused')
$$);
SELECT is(pg_temp.envelope('pause again') -> 'replayed', 'true'::jsonb,
          'pause again: replayed true');
SELECT is(pg_temp.changes('pause again'), '{}'::jsonb, 'pause again: nothing written');

CALL pg_temp.call('reactivate', $$
    SELECT register_n8n_workflow('aaaaaaaa-0000-4000-8000-000000000001', 'n8n-email-1',
                                 'Email blast v2', 'multichannel')
$$);
SELECT is(pg_temp.envelope('reactivate') -> 'updated', 'true'::jsonb,
          'reactivate (status omitted: active): updated true');
SELECT is(pg_temp.workflow((pg_temp.envelope('register') ->> 'workflow_id')::uuid) ->> 'deployment_status',
          'active', 'reactivate: deployment_status back to active');
SELECT is((SELECT array_agg(h.event_type ORDER BY h.id)
             FROM campaigndb.workflow_deployment_history AS h
            WHERE h.workflow_id = (pg_temp.envelope('register') ->> 'workflow_id')::uuid),
          ARRAY['workflow_registered', 'workflow_updated', 'workflow_updated', 'workflow_updated'],
          'the workflow''s audit trail: one registration and three updates, no row for the replays');

-- Every allowed value of the check constraints is accepted
SELECT is(ARRAY(SELECT t || '/' || s
                  FROM unnest(ARRAY['email', 'linkedin', 'sms', 'gmaps', 'facebook',
                                    'multichannel']) AS t,
                       unnest(ARRAY['active', 'inactive', 'paused', 'deploying', 'failed',
                                    'archived']) AS s
                 WHERE register_n8n_workflow('aaaaaaaa-0000-4000-8000-000000000001',
                                             'n8n-' || t || '-' || s, t || ' ' || s, t, s)
                       ->> 'success' IS DISTINCT FROM 'true'
                 ORDER BY 1),
          ARRAY[]::text[],
          'every campaign type (email, linkedin, sms, gmaps, facebook, multichannel) and every '
          'deployment status (active, inactive, paused, deploying, failed, archived) registers');

-- The key is (workspace_id, n8n_workflow_id): the same n8n id in workspace B is another workflow
CALL pg_temp.call('same n8n id in workspace B', $$
    SELECT register_n8n_workflow('bbbbbbbb-0000-4000-8000-000000000002', 'n8n-email-1',
                                 'Email blast v2', 'multichannel')
$$);
SELECT is(pg_temp.envelope('same n8n id in workspace B') - 'workflow_id',
          '{"success": true, "error": null, "error_code": null, "retry_recommended": false,
            "replayed": false, "updated": false}'::jsonb,
          'same n8n id in workspace B: a new registration');
SELECT isnt(pg_temp.envelope('same n8n id in workspace B') -> 'workflow_id',
            pg_temp.envelope('register') -> 'workflow_id',
            'same n8n id in workspace B: another workflow_id than workspace A''s');
SELECT is(pg_temp.rows_added('same n8n id in workspace B'),
          '{"workspace_n8n_workflows": 1, "workflow_deployment_history": 1}'::jsonb,
          'same n8n id in workspace B: one workflow row and one audit row added');

-- ===========================================================================================
-- Errors: envelope, retry_recommended false, nothing written
-- ===========================================================================================
SELECT * FROM pg_temp.fails_with('unknown campaign type', $$
    SELECT register_n8n_workflow('aaaaaaaa-0000-4000-8000-000000000001', 'n8n-fax', 'Fax', 'fax')
$$, '23514');
SELECT * FROM pg_temp.fails_with('unknown campaign type on an existing workflow', $$
    SELECT register_n8n_workflow('aaaaaaaa-0000-4000-8000-000000000001', 'n8n-email-1',
                                 'Email blast v2', 'EMAIL')
$$, '23514');
SELECT * FROM pg_temp.fails_with('unknown deployment status', $$
    SELECT register_n8n_workflow('aaaaaaaa-0000-4000-8000-000000000001', 'n8n-x', 'X', 'email',
                                 'running')
$$, '23514');
SELECT * FROM pg_temp.fails_with('unknown deployment status on an existing workflow', $$
    SELECT register_n8n_workflow('aaaaaaaa-0000-4000-8000-000000000001', 'n8n-email-1',
                                 'Email blast v2', 'multichannel', 'live')
$$, '23514');
SELECT * FROM pg_temp.fails_with('unknown workspace', $$
    SELECT register_n8n_workflow('eeeeeeee-0000-4000-8000-00000000000e', 'n8n-x', 'X', 'email')
$$, '23503');
SELECT * FROM pg_temp.fails_with('NULL workspace', $$
    SELECT register_n8n_workflow(NULL, 'n8n-x', 'X', 'email')
$$, '23502');
SELECT * FROM pg_temp.fails_with('blank n8n workflow id', $$
    SELECT register_n8n_workflow('aaaaaaaa-0000-4000-8000-000000000001', '  ', 'X', 'email')
$$, '23502');
SELECT * FROM pg_temp.fails_with('NULL name', $$
    SELECT register_n8n_workflow('aaaaaaaa-0000-4000-8000-000000000001', 'n8n-x', NULL, 'email')
$$, '23502');
SELECT * FROM pg_temp.fails_with('NULL campaign type', $$
    SELECT register_n8n_workflow('aaaaaaaa-0000-4000-8000-000000000001', 'n8n-x', 'X', NULL)
$$, '23502');
SELECT * FROM pg_temp.fails_with('name longer than 200 characters', $$
    SELECT register_n8n_workflow('aaaaaaaa-0000-4000-8000-000000000001', 'n8n-x', repeat('n', 201),
                                 'email')
$$, '22023');

-- ===========================================================================================
-- Workspace binding (campaigndb.workspace_id)
-- ===========================================================================================
SET LOCAL campaigndb.workspace_id = 'bbbbbbbb-0000-4000-8000-000000000002';
SELECT * FROM pg_temp.fails_with('bound to workspace B, a new workflow in workspace A', $$
    SELECT register_n8n_workflow('aaaaaaaa-0000-4000-8000-000000000001', 'n8n-new', 'New', 'email')
$$, '42501');
SELECT * FROM pg_temp.fails_with('bound to workspace B, an update of workspace A''s workflow', $$
    SELECT register_n8n_workflow('aaaaaaaa-0000-4000-8000-000000000001', 'n8n-email-1',
                                 'Hijacked', 'email')
$$, '42501');
CALL pg_temp.call('bound to workspace B, a workflow in workspace B', $$
    SELECT register_n8n_workflow('bbbbbbbb-0000-4000-8000-000000000002', 'n8n-b-2', 'B two', 'sms')
$$);
SELECT is(pg_temp.envelope_shape(pg_temp.envelope('bound to workspace B, a workflow in workspace B')),
          pg_temp.success_shape(), 'bound to workspace B: a workflow in workspace B is registered');
SELECT is(pg_temp.rows_added('bound to workspace B, a workflow in workspace B'),
          '{"workspace_n8n_workflows": 1, "workflow_deployment_history": 1}'::jsonb,
          'bound to workspace B: its workflow row and audit row are written (FORCE RLS lets the '
          'bound workspace''s audit row through)');

SET LOCAL campaigndb.workspace_id = 'not-a-uuid';
SELECT * FROM pg_temp.fails_with('garbage campaigndb.workspace_id', $$
    SELECT register_n8n_workflow('aaaaaaaa-0000-4000-8000-000000000001', 'n8n-new', 'New', 'email')
$$, '22023');
RESET campaigndb.workspace_id;

-- ===========================================================================================
-- A parameter that cannot be cast raises before the function runs (no envelope possible)
-- ===========================================================================================
SELECT throws_ok($$SELECT register_n8n_workflow(p_workspace_id => 'nope', p_n8n_workflow_id => 'x',
                                               p_name => 'x', p_campaign_type => 'email')$$,
                 '22P02', NULL,
                 'p_workspace_id => ''nope'' raises 22P02 (cast failure before the call)');

SELECT * FROM finish();
ROLLBACK;
