-- complete_campaign_execution(p_execution_id uuid, p_status text, p_result jsonb DEFAULT NULL,
--                             p_error_message text DEFAULT NULL) -> jsonb
-- docs/contract.md section 3 (Campaign execution): pending/running to completed/failed only
-- (otherwise 55000); computes duration_ms; a trigger (log_campaign_execution_performance)
-- records the execution's performance: one transaction_metrics row
-- 'campaign_execution:<type>' and one audit row campaign_execution_completed/_failed.
-- The same completion repeated answers replayed: true and writes nothing; p_status other
-- than completed/failed: 22023; unknown execution: P0002.
-- Runs in one transaction that is rolled back.
BEGIN;
SELECT plan(79);

-- Shared test helpers (pg_temp functions, gone with the session)
\ir lib/helpers.psql

-- launch(workspace, n8n id, execution id, type): a pending execution through the API
CREATE FUNCTION pg_temp.launch(p_workspace_id uuid, p_n8n_workflow_id text, p_execution_id uuid,
                               p_campaign_type text)
RETURNS boolean
LANGUAGE sql
AS $$
    SELECT (execute_campaign_atomically(p_workspace_id, pg_temp.wf(p_n8n_workflow_id), NULL,
                                        'Campaign ' || p_execution_id, p_campaign_type, '{}',
                                        p_execution_id) ->> 'success')::boolean
$$;

-- execution(id): the stored execution's state
CREATE FUNCTION pg_temp.execution(p_id uuid)
RETURNS jsonb
LANGUAGE sql
AS $$
    SELECT jsonb_build_object('execution_status', e.execution_status, 'result', e.result,
                              'error_message', e.error_message, 'duration_ms', e.duration_ms,
                              'completed_at_set', e.completed_at IS NOT NULL,
                              'completed_after_start', e.completed_at >= e.started_at)
      FROM campaigndb.n8n_campaign_executions AS e
     WHERE e.id = p_id
$$;

-- audit(execution_id): the audit rows of an execution after its start, oldest first
CREATE FUNCTION pg_temp.audit(p_execution_id uuid)
RETURNS jsonb
LANGUAGE sql
AS $$
    SELECT COALESCE(jsonb_agg(jsonb_build_object('event_type', h.event_type,
                                                 'workspace_id', h.workspace_id,
                                                 'workflow_id', h.workflow_id,
                                                 'details', h.details) ORDER BY h.id), '[]')
      FROM campaigndb.workflow_deployment_history AS h
     WHERE h.execution_id = p_execution_id AND h.event_type <> 'campaign_execution_started'
$$;

-- new_metrics(): the transaction_metrics rows added since the last mark_metrics()
CREATE TEMP TABLE seen_metrics (id uuid PRIMARY KEY);
CREATE PROCEDURE pg_temp.mark_metrics()
LANGUAGE sql
AS $$
    INSERT INTO pg_temp.seen_metrics SELECT m.id FROM campaigndb.transaction_metrics AS m
    ON CONFLICT DO NOTHING
$$;
CREATE FUNCTION pg_temp.new_metrics()
RETURNS jsonb
LANGUAGE sql
AS $$
    SELECT COALESCE(jsonb_agg(jsonb_build_object('operation_name', m.operation_name,
                                                 'campaign_id', m.campaign_id,
                                                 'duration_ms', m.duration_ms,
                                                 'success', m.success,
                                                 'error_message', m.error_message,
                                                 'retry_count', m.retry_count)
                              ORDER BY m.id), '[]')
      FROM campaigndb.transaction_metrics AS m
     WHERE m.id NOT IN (SELECT s.id FROM pg_temp.seen_metrics AS s)
$$;

-- ===========================================================================================
-- Definition: signature, return type, volatility, SECURITY DEFINER, pinned search_path
-- ===========================================================================================
SELECT * FROM pg_temp.definition(
    'complete_campaign_execution', ARRAY['uuid', 'text', 'jsonb', 'text'], 'jsonb', 'volatile');
SELECT is(pg_temp.search_path_of('public.complete_campaign_execution(uuid, text, jsonb, text)'),
          'pg_catalog, pg_temp', 'complete_campaign_execution pins search_path = pg_catalog, pg_temp');
SELECT is((SELECT p.proargnames FROM pg_catalog.pg_proc AS p
            WHERE p.oid = 'public.complete_campaign_execution(uuid, text, jsonb, text)'::regprocedure),
          ARRAY['p_execution_id', 'p_status', 'p_result', 'p_error_message'],
          'complete_campaign_execution: parameter names and order of the contract');
SELECT trigger_is('campaigndb', 'n8n_campaign_executions', 'log_campaign_execution_performance',
                  'campaigndb', 'log_campaign_execution_performance',
                  'trigger log_campaign_execution_performance on n8n_campaign_executions calls '
                  'campaigndb.log_campaign_execution_performance()');

-- ===========================================================================================
-- Privileges: campaigndb_app may EXECUTE; PUBLIC and campaigndb_readonly may not
-- ===========================================================================================
SELECT * FROM pg_temp.execute_privileges(
    'complete_campaign_execution', ARRAY['uuid', 'text', 'jsonb', 'text'], false);

-- ===========================================================================================
-- Setup: workspace A (an email and a linkedin workflow), workspace B (an sms workflow), and
-- pending executions launched through execute_campaign_atomically
-- ===========================================================================================
\ir lib/workspaces.psql
SELECT is(ARRAY[register_n8n_workflow('aaaaaaaa-0000-4000-8000-000000000001', 'a-email', 'A email', 'email') ->> 'success',
                register_n8n_workflow('aaaaaaaa-0000-4000-8000-000000000001', 'a-linkedin', 'A linkedin', 'linkedin') ->> 'success',
                register_n8n_workflow('bbbbbbbb-0000-4000-8000-000000000002', 'b-sms', 'B sms', 'sms') ->> 'success'],
          ARRAY['true', 'true', 'true'], 'setup: three workflows');
SELECT is(ARRAY[pg_temp.launch('aaaaaaaa-0000-4000-8000-000000000001', 'a-email', 'e1e1e1e1-0000-4000-8000-000000000001', 'email'),
                pg_temp.launch('aaaaaaaa-0000-4000-8000-000000000001', 'a-linkedin', 'e2e2e2e2-0000-4000-8000-000000000002', 'linkedin'),
                pg_temp.launch('aaaaaaaa-0000-4000-8000-000000000001', 'a-email', 'e3e3e3e3-0000-4000-8000-000000000003', 'gmaps'),
                pg_temp.launch('aaaaaaaa-0000-4000-8000-000000000001', 'a-email', 'e4e4e4e4-0000-4000-8000-000000000004', 'email'),
                pg_temp.launch('aaaaaaaa-0000-4000-8000-000000000001', 'a-email', 'e5e5e5e5-0000-4000-8000-000000000005', 'email'),
                pg_temp.launch('bbbbbbbb-0000-4000-8000-000000000002', 'b-sms', 'b1b1b1b1-0000-4000-8000-000000000001', 'sms'),
                pg_temp.launch('bbbbbbbb-0000-4000-8000-000000000002', 'b-sms', 'b2b2b2b2-0000-4000-8000-000000000002', 'sms'),
                pg_temp.launch('aaaaaaaa-0000-4000-8000-000000000001', 'a-email', 'e6e6e6e6-0000-4000-8000-000000000006', 'email')],
          ARRAY[true, true, true, true, true, true, true, true], 'setup: eight pending executions');
-- e1 started 90 seconds ago (as the test's superuser: the function computes from started_at)
UPDATE campaigndb.n8n_campaign_executions SET started_at = now() - interval '90 seconds'
 WHERE id = 'e1e1e1e1-0000-4000-8000-000000000001';
-- e6 was launched 30 days ago and never heard of again (a stale execution to close out)
UPDATE campaigndb.n8n_campaign_executions SET started_at = now() - interval '30 days'
 WHERE id = 'e6e6e6e6-0000-4000-8000-000000000006';
-- e3 is running (n8n reported it started)
UPDATE campaigndb.n8n_campaign_executions SET execution_status = 'running'
 WHERE id = 'e3e3e3e3-0000-4000-8000-000000000003';
SELECT is((SELECT count(*) FROM campaigndb.transaction_metrics), 0::bigint,
          'setup: no transaction_metrics row yet (pending -> running records nothing)');

SELECT is(pg_temp.call_as('campaigndb_app', $$
              SELECT complete_campaign_execution('e5e5e5e5-0000-4000-8000-000000000005', 'completed')$$)
              - 'duration_ms',
          '{"success": true, "error": null, "error_code": null, "retry_recommended": false,
            "execution_id": "e5e5e5e5-0000-4000-8000-000000000005", "execution_status": "completed",
            "replayed": false}'::jsonb,
          'campaigndb_app, which holds no table privilege, completes an execution through the function');
SELECT is(pg_temp.call_as('campaigndb_readonly', $$
              SELECT complete_campaign_execution('e4e4e4e4-0000-4000-8000-000000000004', 'completed')$$)
              ->> 'raised',
          '42501', 'campaigndb_readonly is refused EXECUTE on complete_campaign_execution (42501)');

-- ===========================================================================================
-- Happy path: pending -> completed
-- ===========================================================================================
CALL pg_temp.mark_metrics();
CALL pg_temp.call('complete', $$
    SELECT complete_campaign_execution(p_execution_id => 'e1e1e1e1-0000-4000-8000-000000000001',
                                       p_status => 'completed', p_result => '{"sent": 120}')
$$);
SELECT is(pg_temp.envelope('complete') - 'duration_ms',
          '{"success": true, "error": null, "error_code": null, "retry_recommended": false,
            "execution_id": "e1e1e1e1-0000-4000-8000-000000000001", "execution_status": "completed",
            "replayed": false}'::jsonb,
          'complete: success, execution_status completed, replayed false');
SELECT ok(jsonb_typeof(pg_temp.envelope('complete') -> 'duration_ms') = 'number'
          AND (pg_temp.envelope('complete') ->> 'duration_ms')::numeric
              BETWEEN 90000 AND 90000 + 60000,
          'complete: duration_ms is the time since started_at (90 s ago): between 90,000 and 150,000');
SELECT is(pg_temp.execution('e1e1e1e1-0000-4000-8000-000000000001'),
          jsonb_build_object('execution_status', 'completed', 'result', '{"sent": 120}'::jsonb,
                             'error_message', NULL,
                             'duration_ms', pg_temp.envelope('complete') -> 'duration_ms',
                             'completed_at_set', true, 'completed_after_start', true),
          'complete: the row is completed, with the result, completed_at set and the answered '
          'duration_ms');
SELECT ok((SELECT abs(e.duration_ms - extract(epoch FROM e.completed_at - e.started_at) * 1000) <= 5
             FROM campaigndb.n8n_campaign_executions AS e
            WHERE e.id = 'e1e1e1e1-0000-4000-8000-000000000001'),
          'complete: duration_ms matches completed_at - started_at');
SELECT is(pg_temp.rows_added('complete'),
          '{"transaction_metrics": 1, "workflow_deployment_history": 1}'::jsonb,
          'complete: the trigger added one transaction_metrics row and one audit row, nothing else');
SELECT is(pg_temp.new_metrics(),
          jsonb_build_array(jsonb_build_object(
              'operation_name', 'campaign_execution:email', 'campaign_id', NULL,
              'duration_ms', pg_temp.envelope('complete') -> 'duration_ms', 'success', true,
              'error_message', NULL, 'retry_count', 0)),
          'complete: the metric is campaign_execution:email, success true, with the duration');
SELECT is(pg_temp.audit('e1e1e1e1-0000-4000-8000-000000000001'),
          jsonb_build_array(jsonb_build_object(
              'event_type', 'campaign_execution_completed',
              'workspace_id', 'aaaaaaaa-0000-4000-8000-000000000001',
              'workflow_id', pg_temp.wf('a-email'),
              'details', jsonb_build_object('duration_ms', pg_temp.envelope('complete') -> 'duration_ms',
                                            'error_message', NULL))),
          'complete: one audit row campaign_execution_completed for the execution and its workflow');

-- ===========================================================================================
-- pending -> failed, with an error message
-- ===========================================================================================
CALL pg_temp.mark_metrics();
CALL pg_temp.call('fail', $$
    SELECT complete_campaign_execution('e2e2e2e2-0000-4000-8000-000000000002', 'failed', NULL,
                                       'LinkedIn rate limit')
$$);
SELECT is(pg_temp.envelope('fail') - 'duration_ms',
          '{"success": true, "error": null, "error_code": null, "retry_recommended": false,
            "execution_id": "e2e2e2e2-0000-4000-8000-000000000002", "execution_status": "failed",
            "replayed": false}'::jsonb,
          'fail: success, execution_status failed');
SELECT ok((pg_temp.envelope('fail') ->> 'duration_ms')::integer >= 0,
          'fail: duration_ms >= 0');
SELECT is(pg_temp.execution('e2e2e2e2-0000-4000-8000-000000000002'),
          jsonb_build_object('execution_status', 'failed', 'result', NULL,
                             'error_message', 'LinkedIn rate limit',
                             'duration_ms', pg_temp.envelope('fail') -> 'duration_ms',
                             'completed_at_set', true, 'completed_after_start', true),
          'fail: the row is failed, with the error message and completed_at');
SELECT is(pg_temp.rows_added('fail'),
          '{"transaction_metrics": 1, "workflow_deployment_history": 1}'::jsonb,
          'fail: one transaction_metrics row and one audit row added');
SELECT is(pg_temp.new_metrics(),
          jsonb_build_array(jsonb_build_object(
              'operation_name', 'campaign_execution:linkedin', 'campaign_id', NULL,
              'duration_ms', pg_temp.envelope('fail') -> 'duration_ms', 'success', false,
              'error_message', 'LinkedIn rate limit', 'retry_count', 0)),
          'fail: the metric is campaign_execution:linkedin, success false, with the error');
SELECT is(pg_temp.audit('e2e2e2e2-0000-4000-8000-000000000002'),
          jsonb_build_array(jsonb_build_object(
              'event_type', 'campaign_execution_failed',
              'workspace_id', 'aaaaaaaa-0000-4000-8000-000000000001',
              'workflow_id', pg_temp.wf('a-linkedin'),
              'details', jsonb_build_object('duration_ms', pg_temp.envelope('fail') -> 'duration_ms',
                                            'error_message', 'LinkedIn rate limit'))),
          'fail: one audit row campaign_execution_failed');

-- ===========================================================================================
-- running -> completed
-- ===========================================================================================
CALL pg_temp.call('running to completed', $$
    SELECT complete_campaign_execution('e3e3e3e3-0000-4000-8000-000000000003', 'completed',
                                       '{"places": 12}')
$$);
SELECT is(pg_temp.envelope('running to completed') - 'duration_ms',
          '{"success": true, "error": null, "error_code": null, "retry_recommended": false,
            "execution_id": "e3e3e3e3-0000-4000-8000-000000000003", "execution_status": "completed",
            "replayed": false}'::jsonb,
          'running to completed: success');
SELECT is(pg_temp.rows_added('running to completed'),
          '{"transaction_metrics": 1, "workflow_deployment_history": 1}'::jsonb,
          'running to completed: one metric row and one audit row');
SELECT is((SELECT m.operation_name FROM campaigndb.transaction_metrics AS m
            WHERE m.operation_name LIKE '%gmaps'),
          'campaign_execution:gmaps'::varchar,
          'running to completed: the metric is named after the execution''s type (gmaps)');

-- ===========================================================================================
-- A stale execution (started 30 days ago) can still be failed
-- ===========================================================================================
-- BUG (todo): duration_ms is computed as an integer number of milliseconds (and the columns
-- n8n_campaign_executions.duration_ms and transaction_metrics.duration_ms are integer), so an
-- execution started more than 2^31 ms (about 24.8 days) ago can never be completed or failed:
-- the call answers 22003 "integer out of range" and the execution stays pending forever.
CALL pg_temp.call('stale execution failed', $$
    SELECT complete_campaign_execution('e6e6e6e6-0000-4000-8000-000000000006', 'failed', NULL,
                                       'never reported back')
$$);
SELECT is(pg_temp.envelope_shape(pg_temp.envelope('stale execution failed'))
              || jsonb_build_object('execution_status',
                                    pg_temp.envelope('stale execution failed') -> 'execution_status'),
          pg_temp.success_shape() || '{"execution_status": "failed"}'::jsonb,
          'stale execution (started 30 days ago) failed: success, execution_status failed');
SELECT is(pg_temp.rows_added('stale execution failed'),
          '{"transaction_metrics": 1, "workflow_deployment_history": 1}'::jsonb,
          'stale execution failed: one metric row and one audit row');

-- ===========================================================================================
-- Replay: the same completion again answers replayed true and writes nothing
-- ===========================================================================================
CALL pg_temp.call('replay completed', $$
    SELECT complete_campaign_execution('e1e1e1e1-0000-4000-8000-000000000001', 'completed',
                                       '{"sent": 120}')
$$);
SELECT is(pg_temp.envelope('replay completed'),
          pg_temp.envelope('complete') || '{"replayed": true}'::jsonb,
          'replay completed: the first answer (same duration_ms) with replayed true');
SELECT is(pg_temp.changes('replay completed'), '{}'::jsonb,
          'replay completed: nothing written (no new metric or audit row)');
CALL pg_temp.call('replay failed', $$
    SELECT complete_campaign_execution(p_execution_id => 'e2e2e2e2-0000-4000-8000-000000000002',
                                       p_status => 'failed', p_error_message => 'LinkedIn rate limit')
$$);
SELECT is(pg_temp.envelope('replay failed'), pg_temp.envelope('fail') || '{"replayed": true}'::jsonb,
          'replay failed: the first answer with replayed true');
SELECT is(pg_temp.changes('replay failed'), '{}'::jsonb, 'replay failed: nothing written');

-- ===========================================================================================
-- A finished execution cannot be completed otherwise (55000)
-- ===========================================================================================
SELECT * FROM pg_temp.fails_with('completed -> failed', $$
    SELECT complete_campaign_execution('e1e1e1e1-0000-4000-8000-000000000001', 'failed', NULL, 'late')
$$, '55000');
SELECT * FROM pg_temp.fails_with('completed -> completed with another result', $$
    SELECT complete_campaign_execution('e1e1e1e1-0000-4000-8000-000000000001', 'completed',
                                       '{"sent": 121}')
$$, '55000');
SELECT * FROM pg_temp.fails_with('completed -> completed without the result', $$
    SELECT complete_campaign_execution('e1e1e1e1-0000-4000-8000-000000000001', 'completed')
$$, '55000');
SELECT * FROM pg_temp.fails_with('failed -> completed', $$
    SELECT complete_campaign_execution('e2e2e2e2-0000-4000-8000-000000000002', 'completed')
$$, '55000');
SELECT * FROM pg_temp.fails_with('failed -> failed with another error message', $$
    SELECT complete_campaign_execution('e2e2e2e2-0000-4000-8000-000000000002', 'failed', NULL,
                                       'another error')
$$, '55000');

-- ===========================================================================================
-- Bad parameters: 22023 (status, result), 23502, P0002
-- ===========================================================================================
SELECT * FROM pg_temp.fails_with('p_status running', $$
    SELECT complete_campaign_execution('e4e4e4e4-0000-4000-8000-000000000004', 'running')
$$, '22023');
SELECT * FROM pg_temp.fails_with('p_status pending', $$
    SELECT complete_campaign_execution('e4e4e4e4-0000-4000-8000-000000000004', 'pending')
$$, '22023');
SELECT * FROM pg_temp.fails_with('p_status cancelled', $$
    SELECT complete_campaign_execution('e4e4e4e4-0000-4000-8000-000000000004', 'cancelled')
$$, '22023');
SELECT * FROM pg_temp.fails_with('p_status in capitals', $$
    SELECT complete_campaign_execution('e4e4e4e4-0000-4000-8000-000000000004', 'COMPLETED')
$$, '22023');
SELECT * FROM pg_temp.fails_with('p_result an array', $$
    SELECT complete_campaign_execution('e4e4e4e4-0000-4000-8000-000000000004', 'completed', '[1]')
$$, '22023');
SELECT * FROM pg_temp.fails_with('error message longer than 10,000 characters', $$
    SELECT complete_campaign_execution('e4e4e4e4-0000-4000-8000-000000000004', 'failed', NULL,
                                       repeat('x', 10001))
$$, '22023');
SELECT * FROM pg_temp.fails_with('NULL execution id', $$
    SELECT complete_campaign_execution(NULL, 'completed')
$$, '23502');
SELECT * FROM pg_temp.fails_with('NULL status', $$
    SELECT complete_campaign_execution('e4e4e4e4-0000-4000-8000-000000000004', NULL)
$$, '23502');
SELECT * FROM pg_temp.fails_with('unknown execution', $$
    SELECT complete_campaign_execution('eeeeeeee-0000-4000-8000-00000000000e', 'completed')
$$, 'P0002');
SELECT is(pg_temp.execution('e4e4e4e4-0000-4000-8000-000000000004') ->> 'execution_status',
          'pending', 'after the bad calls, e4 is still pending');

-- ===========================================================================================
-- Workspace binding (campaigndb.workspace_id)
-- ===========================================================================================
SET LOCAL campaigndb.workspace_id = 'bbbbbbbb-0000-4000-8000-000000000002';
SELECT * FROM pg_temp.fails_with('bound to workspace B, completing workspace A''s execution', $$
    SELECT complete_campaign_execution('e4e4e4e4-0000-4000-8000-000000000004', 'completed')
$$, '42501');
SELECT * FROM pg_temp.fails_with('bound to workspace B, replaying workspace A''s completion', $$
    SELECT complete_campaign_execution('e1e1e1e1-0000-4000-8000-000000000001', 'completed',
                                       '{"sent": 120}')
$$, '42501');
CALL pg_temp.call('bound to workspace B, completing workspace B''s execution', $$
    SELECT complete_campaign_execution('b1b1b1b1-0000-4000-8000-000000000001', 'failed', NULL, 'no credit')
$$);
SELECT is(pg_temp.envelope('bound to workspace B, completing workspace B''s execution') - 'duration_ms',
          '{"success": true, "error": null, "error_code": null, "retry_recommended": false,
            "execution_id": "b1b1b1b1-0000-4000-8000-000000000001", "execution_status": "failed",
            "replayed": false}'::jsonb,
          'bound to workspace B: workspace B''s execution is completed');
SELECT is(pg_temp.rows_added('bound to workspace B, completing workspace B''s execution'),
          '{"transaction_metrics": 1, "workflow_deployment_history": 1}'::jsonb,
          'bound to workspace B: the trigger''s metric and audit rows are written (FORCE RLS lets '
          'the bound workspace''s audit row through)');

SET LOCAL campaigndb.workspace_id = 'not-a-uuid';
SELECT * FROM pg_temp.fails_with('garbage campaigndb.workspace_id', $$
    SELECT complete_campaign_execution('b2b2b2b2-0000-4000-8000-000000000002', 'completed')
$$, '22023');
RESET campaigndb.workspace_id;

-- ===========================================================================================
-- A parameter that cannot be cast raises before the function runs (no envelope possible)
-- ===========================================================================================
SELECT throws_ok($$SELECT complete_campaign_execution(p_execution_id => 'nope', p_status => 'completed')$$,
                 '22P02', NULL,
                 'p_execution_id => ''nope'' raises 22P02 (cast failure before the call)');

-- ===========================================================================================
-- At the end: every finished execution has exactly one metric row and one finishing audit
-- row; unfinished ones have neither
-- ===========================================================================================
SELECT is((SELECT count(*) FROM campaigndb.transaction_metrics
            WHERE operation_name LIKE 'campaign_execution:%'),
          (SELECT count(*) FROM campaigndb.n8n_campaign_executions
            WHERE execution_status IN ('completed', 'failed')),
          'one campaign_execution:<type> metric row per finished execution');
SELECT is(ARRAY(SELECT e.id::text
                  FROM campaigndb.n8n_campaign_executions AS e
                 WHERE (SELECT count(*) FROM campaigndb.workflow_deployment_history AS h
                         WHERE h.execution_id = e.id
                           AND h.event_type IN ('campaign_execution_completed',
                                                'campaign_execution_failed'))
                       <> CASE WHEN e.execution_status IN ('completed', 'failed') THEN 1 ELSE 0 END
                 ORDER BY 1),
          ARRAY[]::text[],
          'exactly one finishing audit row per finished execution, none for unfinished ones');

SELECT * FROM finish();
ROLLBACK;
