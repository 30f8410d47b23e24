-- get_campaign_execution_metrics(p_workspace_id uuid,
--                                p_since timestamptz DEFAULT now() - interval '24 hours') -> jsonb
-- docs/contract.md section 3 (Campaign execution): a workspace's executions created since p_since:
-- total, pending, running, completed, failed, success_rate (completed / finished, null when
-- none finished), avg_duration_ms and p95_duration_ms (of finished ones), peak_concurrent
-- (the most executions running at once; an unfinished one runs until now).  Read only;
-- campaigndb_readonly may call it.
-- The executions are inserted directly (as the test's superuser) with chosen times, relative
-- to now(), the start of this test's transaction.  Runs in one transaction that is rolled back.
BEGIN;
SELECT plan(37);

-- Shared test helpers (pg_temp functions, gone with the session)
\ir lib/helpers.psql

-- metrics(label): a recorded answer without its "since" and p95_duration_ms (checked apart:
-- p95 is a float)
CREATE FUNCTION pg_temp.metrics(p_label text)
RETURNS jsonb
LANGUAGE sql
AS $$ SELECT pg_temp.envelope(p_label) - 'since' - 'p95_duration_ms' $$;

-- ===========================================================================================
-- Definition: signature, return type, volatility, SECURITY DEFINER, pinned search_path
-- ===========================================================================================
SELECT * FROM pg_temp.definition(
    'get_campaign_execution_metrics', ARRAY['uuid', 'timestamp with time zone'], 'jsonb', 'stable');
SELECT is(pg_temp.search_path_of('public.get_campaign_execution_metrics(uuid, timestamptz)'),
          'pg_catalog, pg_temp', 'get_campaign_execution_metrics pins search_path = pg_catalog, pg_temp');
SELECT is((SELECT p.proargnames FROM pg_catalog.pg_proc AS p
            WHERE p.oid = 'public.get_campaign_execution_metrics(uuid, timestamptz)'::regprocedure),
          ARRAY['p_workspace_id', 'p_since'],
          'get_campaign_execution_metrics: parameter names and order of the contract');
SELECT has_index('campaigndb', 'n8n_campaign_executions', 'n8n_campaign_executions_workspace_created_idx',
                 ARRAY['workspace_id', 'created_at'],
                 'executions are indexed by (workspace_id, created_at) for the metrics');

-- ===========================================================================================
-- Privileges: campaigndb_app and campaigndb_readonly may EXECUTE; PUBLIC may not
-- ===========================================================================================
SELECT * FROM pg_temp.execute_privileges(
    'get_campaign_execution_metrics', ARRAY['uuid', 'timestamp with time zone'], true);

-- ===========================================================================================
-- Setup: workspaces A, B and C (C has no executions), a workflow in A and B, and executions
-- with chosen times (T = now()):
--   m1 completed  T-60m .. T-42m  1,080,000 ms
--   m2 completed  T-50m .. T-30m  1,200,000 ms
--   m3 failed     T-45m .. T-44m     60,000 ms   (T-45m..T-44m: m1, m2, m3 run at once: 3)
--   m4 completed  T-30m .. T-20m    600,000 ms   (starts as m2 ends: not concurrent)
--   m5 running    T-25m .. (now)
--   m6 pending    T-20m .. (now)                 (m6, m7 start as m4 ends: m5, m6, m7 = 3)
--   m7 pending    T-20m .. (now)
--   m8 completed  T-30h .. T-30h+2m 120,000 ms  (older than the default 24 hours)
--   b1 running    T-45m .. (now), in workspace B  (never counted for A)
-- ===========================================================================================
SELECT is(ARRAY[create_workspace('Workspace A', 'aaaaaaaa-0000-4000-8000-000000000001') ->> 'success',
                create_workspace('Workspace B', 'bbbbbbbb-0000-4000-8000-000000000002') ->> 'success',
                create_workspace('Workspace C', 'cccccccc-0000-4000-8000-000000000003') ->> 'success',
                register_n8n_workflow('aaaaaaaa-0000-4000-8000-000000000001', 'a-flow', 'A flow', 'email') ->> 'success',
                register_n8n_workflow('bbbbbbbb-0000-4000-8000-000000000002', 'b-flow', 'B flow', 'sms') ->> 'success'],
          ARRAY['true', 'true', 'true', 'true', 'true'], 'setup: three workspaces, two workflows');

INSERT INTO campaigndb.n8n_campaign_executions
       (id, workspace_id, workspace_n8n_workflow_id, campaign_name, campaign_type,
        execution_status, started_at, completed_at, duration_ms, created_at, execution_number)
SELECT x.id::uuid, x.ws::uuid,
       (SELECT w.id FROM campaigndb.workspace_n8n_workflows AS w WHERE w.n8n_workflow_id = x.flow),
       'Metrics ' || x.id, 'email', x.status, now() + x.started, now() + x.completed,
       (extract(epoch FROM x.completed - x.started) * 1000)::integer, now() + x.started, x.n
  FROM (VALUES
    ('11111111-0000-4000-8000-000000000001', 'aaaaaaaa-0000-4000-8000-000000000001', 'a-flow', 'completed',
     interval '-60 minutes', interval '-42 minutes', 1),
    ('11111111-0000-4000-8000-000000000002', 'aaaaaaaa-0000-4000-8000-000000000001', 'a-flow', 'completed',
     interval '-50 minutes', interval '-30 minutes', 2),
    ('11111111-0000-4000-8000-000000000003', 'aaaaaaaa-0000-4000-8000-000000000001', 'a-flow', 'failed',
     interval '-45 minutes', interval '-44 minutes', 3),
    ('11111111-0000-4000-8000-000000000004', 'aaaaaaaa-0000-4000-8000-000000000001', 'a-flow', 'completed',
     interval '-30 minutes', interval '-20 minutes', 4),
    ('11111111-0000-4000-8000-000000000005', 'aaaaaaaa-0000-4000-8000-000000000001', 'a-flow', 'running',
     interval '-25 minutes', NULL, 5),
    ('11111111-0000-4000-8000-000000000006', 'aaaaaaaa-0000-4000-8000-000000000001', 'a-flow', 'pending',
     interval '-20 minutes', NULL, 6),
    ('11111111-0000-4000-8000-000000000007', 'aaaaaaaa-0000-4000-8000-000000000001', 'a-flow', 'pending',
     interval '-20 minutes', NULL, 7),
    ('11111111-0000-4000-8000-000000000008', 'aaaaaaaa-0000-4000-8000-000000000001', 'a-flow', 'completed',
     interval '-30 hours', interval '-30 hours' + interval '2 minutes', 8),
    ('22222222-0000-4000-8000-000000000001', 'bbbbbbbb-0000-4000-8000-000000000002', 'b-flow', 'running',
     interval '-45 minutes', NULL, 1)
  ) AS x(id, ws, flow, status, started, completed, n);
UPDATE campaigndb.workspace_n8n_workflows AS w
   SET total_executions = (SELECT count(*) FROM campaigndb.n8n_campaign_executions AS e
                            WHERE e.workspace_n8n_workflow_id = w.id);
SELECT is((SELECT count(*) FROM campaigndb.n8n_campaign_executions), 9::bigint,
          'setup: nine executions inserted');

-- ===========================================================================================
-- The default window (24 hours)
-- ===========================================================================================
CALL pg_temp.call('A, last 24 hours', $$
    SELECT get_campaign_execution_metrics(p_workspace_id => 'aaaaaaaa-0000-4000-8000-000000000001')
$$);
SELECT is(pg_temp.metrics('A, last 24 hours'),
          '{"success": true, "error": null, "error_code": null, "retry_recommended": false,
            "total": 7, "pending": 2, "running": 1, "completed": 3, "failed": 1,
            "success_rate": 0.75, "avg_duration_ms": 735000, "peak_concurrent": 3}'::jsonb,
          'A, last 24 hours: 7 executions (2 pending, 1 running, 3 completed, 1 failed), '
          'success_rate 3/4 = 0.75, avg duration 735,000 ms, peak_concurrent 3 (m8 and '
          'workspace B left out)');
SELECT ok(abs((pg_temp.envelope('A, last 24 hours') ->> 'p95_duration_ms')::numeric - 1182000) < 0.01,
          'A, last 24 hours: p95_duration_ms is 1,182,000 (continuous percentile of 60,000, '
          '600,000, 1,080,000, 1,200,000)');
SELECT ok(abs(extract(epoch FROM (pg_temp.envelope('A, last 24 hours') ->> 'since')::timestamptz
                                 - (now() - interval '24 hours'))) < 0.001,
          'A, last 24 hours: since is now() - 24 hours');
SELECT is(pg_temp.changes('A, last 24 hours'), '{}'::jsonb, 'A, last 24 hours: nothing written');

CALL pg_temp.call('A, NULL p_since', $$
    SELECT get_campaign_execution_metrics('aaaaaaaa-0000-4000-8000-000000000001', NULL)
$$);
SELECT is(pg_temp.envelope('A, NULL p_since'), pg_temp.envelope('A, last 24 hours'),
          'A, NULL p_since: the same answer as the default window');

-- ===========================================================================================
-- p_since filtering (on created_at)
-- ===========================================================================================
CALL pg_temp.call('A, last 48 hours', $$
    SELECT get_campaign_execution_metrics('aaaaaaaa-0000-4000-8000-000000000001',
                                          now() - interval '48 hours')
$$);
SELECT is(pg_temp.metrics('A, last 48 hours'),
          '{"success": true, "error": null, "error_code": null, "retry_recommended": false,
            "total": 8, "pending": 2, "running": 1, "completed": 4, "failed": 1,
            "success_rate": 0.8, "avg_duration_ms": 612000, "peak_concurrent": 3}'::jsonb,
          'A, last 48 hours: m8 counted too: 8 executions, 4 completed, success_rate 0.8, '
          'avg 612,000 ms');
SELECT ok(abs((pg_temp.envelope('A, last 48 hours') ->> 'p95_duration_ms')::numeric - 1176000) < 0.01,
          'A, last 48 hours: p95_duration_ms is 1,176,000');
SELECT is((pg_temp.envelope('A, last 48 hours') ->> 'since')::timestamptz, now() - interval '48 hours',
          'A, last 48 hours: since is the given p_since');

CALL pg_temp.call('A, last 26 minutes', $$
    SELECT get_campaign_execution_metrics('aaaaaaaa-0000-4000-8000-000000000001',
                                          now() - interval '26 minutes')
$$);
SELECT is(pg_temp.envelope('A, last 26 minutes') - 'since',
          '{"success": true, "error": null, "error_code": null, "retry_recommended": false,
            "total": 3, "pending": 2, "running": 1, "completed": 0, "failed": 0,
            "success_rate": null, "avg_duration_ms": null, "p95_duration_ms": null,
            "peak_concurrent": 3}'::jsonb,
          'A, last 26 minutes: m5, m6, m7 only; none finished: success_rate, avg and p95 null; '
          'the three unfinished ones run until now: peak_concurrent 3');

CALL pg_temp.call('A, last 21 minutes', $$
    SELECT get_campaign_execution_metrics('aaaaaaaa-0000-4000-8000-000000000001',
                                          now() - interval '21 minutes')
$$);
SELECT is(pg_temp.metrics('A, last 21 minutes') - 'success_rate' - 'avg_duration_ms',
          '{"success": true, "error": null, "error_code": null, "retry_recommended": false,
            "total": 2, "pending": 2, "running": 0, "completed": 0, "failed": 0,
            "peak_concurrent": 2}'::jsonb,
          'A, last 21 minutes: m6 and m7: total 2, peak_concurrent 2');

CALL pg_temp.call('A, since now', $$
    SELECT get_campaign_execution_metrics('aaaaaaaa-0000-4000-8000-000000000001', now())
$$);
SELECT is(pg_temp.envelope('A, since now') - 'since',
          '{"success": true, "error": null, "error_code": null, "retry_recommended": false,
            "total": 0, "pending": 0, "running": 0, "completed": 0, "failed": 0,
            "success_rate": null, "avg_duration_ms": null, "p95_duration_ms": null,
            "peak_concurrent": 0}'::jsonb,
          'A, since now: no execution: zero counts, null rates, peak_concurrent 0');

CALL pg_temp.call('B, last 24 hours', $$
    SELECT get_campaign_execution_metrics('bbbbbbbb-0000-4000-8000-000000000002')
$$);
SELECT is(pg_temp.metrics('B, last 24 hours') - 'success_rate' - 'avg_duration_ms',
          '{"success": true, "error": null, "error_code": null, "retry_recommended": false,
            "total": 1, "pending": 0, "running": 1, "completed": 0, "failed": 0,
            "peak_concurrent": 1}'::jsonb,
          'B, last 24 hours: only workspace B''s running execution');

CALL pg_temp.call('C, no executions', $$
    SELECT get_campaign_execution_metrics('cccccccc-0000-4000-8000-000000000003')
$$);
SELECT is(pg_temp.envelope('C, no executions') - 'since',
          '{"success": true, "error": null, "error_code": null, "retry_recommended": false,
            "total": 0, "pending": 0, "running": 0, "completed": 0, "failed": 0,
            "success_rate": null, "avg_duration_ms": null, "p95_duration_ms": null,
            "peak_concurrent": 0}'::jsonb,
          'C, a workspace without executions: zero counts, null rates, peak_concurrent 0');

-- The roles: campaigndb_readonly and campaigndb_app read through the function
SELECT is(pg_temp.call_as('campaigndb_readonly', $$
              SELECT get_campaign_execution_metrics('aaaaaaaa-0000-4000-8000-000000000001')$$),
          pg_temp.envelope('A, last 24 hours'),
          'campaigndb_readonly, which holds no table privilege, reads the metrics through the function');
SELECT is(pg_temp.call_as('campaigndb_app', $$
              SELECT get_campaign_execution_metrics('aaaaaaaa-0000-4000-8000-000000000001')$$),
          pg_temp.envelope('A, last 24 hours'),
          'campaigndb_app reads the metrics through the function');

-- ===========================================================================================
-- Bad parameters
-- ===========================================================================================
-- p_since in the future: an empty window is an answer, not an error (issue 14)
CALL pg_temp.call('p_since in the future', $$
    SELECT get_campaign_execution_metrics('aaaaaaaa-0000-4000-8000-000000000001',
                                          now() + interval '1 hour')
$$);
SELECT is(pg_temp.envelope_shape(pg_temp.envelope('p_since in the future')),
          pg_temp.success_shape(), 'p_since in the future: a success envelope');
SELECT is(pg_temp.envelope('p_since in the future')
              - ARRAY['success', 'error', 'error_code', 'retry_recommended', 'since'],
          '{"total": 0, "pending": 0, "running": 0, "completed": 0, "failed": 0,
            "success_rate": null, "avg_duration_ms": null, "p95_duration_ms": null,
            "peak_concurrent": 0}'::jsonb,
          'p_since in the future: an empty window (zeros, nulls for the ratios)');
SELECT * FROM pg_temp.fails_with('NULL workspace', $$
    SELECT get_campaign_execution_metrics(NULL)
$$, '23502');

-- ===========================================================================================
-- Workspace binding (campaigndb.workspace_id)
-- ===========================================================================================
SET LOCAL campaigndb.workspace_id = 'bbbbbbbb-0000-4000-8000-000000000002';
SELECT * FROM pg_temp.fails_with('bound to workspace B, workspace A''s metrics', $$
    SELECT get_campaign_execution_metrics('aaaaaaaa-0000-4000-8000-000000000001')
$$, '42501');
CALL pg_temp.call('bound to workspace B, workspace B''s metrics', $$
    SELECT get_campaign_execution_metrics('bbbbbbbb-0000-4000-8000-000000000002')
$$);
SELECT is(pg_temp.envelope('bound to workspace B, workspace B''s metrics'),
          pg_temp.envelope('B, last 24 hours'),
          'bound to workspace B: workspace B''s metrics as unbound');

SET LOCAL campaigndb.workspace_id = 'not-a-uuid';
SELECT * FROM pg_temp.fails_with('garbage campaigndb.workspace_id', $$
    SELECT get_campaign_execution_metrics('aaaaaaaa-0000-4000-8000-000000000001')
$$, '22023');
RESET campaigndb.workspace_id;

-- ===========================================================================================
-- A parameter that cannot be cast raises before the function runs (no envelope possible)
-- ===========================================================================================
SELECT throws_ok($$SELECT get_campaign_execution_metrics(p_workspace_id => 'nope')$$,
                 '22P02', NULL,
                 'p_workspace_id => ''nope'' raises 22P02 (cast failure before the call)');

SELECT * FROM finish();
ROLLBACK;
