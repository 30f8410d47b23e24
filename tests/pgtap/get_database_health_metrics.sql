-- get_database_health_metrics() -> jsonb
-- docs/contract.md section 3 (Campaign execution): connections {total, active, idle,
-- idle_in_transaction, max, usage_pct}, cache_hit_ratio, database_size_bytes,
-- longest_transaction_s, waiting_locks, deadlocks.  Read only; campaigndb_readonly may call it.
-- Other sessions on the server come and go (other suites may run meanwhile), so the values
-- are checked for their types and ranges and against each other, not for exact counts.
-- Runs in one transaction that is rolled back.
BEGIN;
SELECT plan(31);

-- Shared test helpers (pg_temp functions, gone with the session)
\ir lib/helpers.psql

-- is_count(v): a JSON non-negative integer
CREATE FUNCTION pg_temp.is_count(p_value jsonb)
RETURNS boolean
LANGUAGE sql
AS $$ SELECT jsonb_typeof(p_value) = 'number' AND p_value::text ~ '^[0-9]+$' $$;

-- ===========================================================================================
-- Definition: signature, return type, volatility, SECURITY DEFINER, pinned search_path
-- ===========================================================================================
SELECT * FROM pg_temp.definition('get_database_health_metrics', ARRAY[]::name[], 'jsonb', 'stable');
SELECT is(pg_temp.search_path_of('public.get_database_health_metrics()'),
          'pg_catalog, pg_temp', 'get_database_health_metrics pins search_path = pg_catalog, pg_temp');

-- ===========================================================================================
-- Privileges: campaigndb_app and campaigndb_readonly may EXECUTE; PUBLIC may not
-- ===========================================================================================
SELECT * FROM pg_temp.execute_privileges('get_database_health_metrics', ARRAY[]::name[], true);

-- ===========================================================================================
-- The answer: keys, types and ranges
-- ===========================================================================================
CALL pg_temp.call('health', $$SELECT get_database_health_metrics()$$);

SELECT is(pg_temp.envelope_shape(pg_temp.envelope('health')), pg_temp.success_shape(),
          'health: success envelope with success, error, error_code, retry_recommended');
SELECT ok(pg_temp.envelope('health') ?& ARRAY['connections', 'cache_hit_ratio', 'database_size_bytes',
                                              'longest_transaction_s', 'waiting_locks', 'deadlocks'],
          'health: connections, cache_hit_ratio, database_size_bytes, longest_transaction_s, '
          'waiting_locks and deadlocks are present');
SELECT is(ARRAY(SELECT k FROM jsonb_object_keys(pg_temp.envelope('health') -> 'connections') AS k
                 ORDER BY k),
          ARRAY['active', 'idle', 'idle_in_transaction', 'max', 'total', 'usage_pct'],
          'health: connections holds total, active, idle, idle_in_transaction, max, usage_pct');
SELECT is(ARRAY(SELECT k FROM unnest(ARRAY['total', 'active', 'idle', 'idle_in_transaction', 'max']) AS k
                 WHERE NOT pg_temp.is_count(pg_temp.envelope('health') -> 'connections' -> k)),
          ARRAY[]::text[], 'health: the connection counts and max are non-negative integers');
SELECT is((pg_temp.envelope('health') -> 'connections' ->> 'max')::integer,
          current_setting('max_connections')::integer,
          'health: connections.max is current_setting(''max_connections'')');
SELECT ok((pg_temp.envelope('health') -> 'connections' ->> 'total')::integer >= 1,
          'health: connections.total counts at least this session');
SELECT ok((pg_temp.envelope('health') -> 'connections' ->> 'active')::integer >= 1,
          'health: connections.active counts at least this session (running the call)');
SELECT ok((SELECT (c ->> 'active')::integer + (c ->> 'idle')::integer
                  + (c ->> 'idle_in_transaction')::integer <= (c ->> 'total')::integer
             FROM (SELECT pg_temp.envelope('health') -> 'connections' AS c) AS x),
          'health: active + idle + idle_in_transaction <= total');
-- pg_stat_activity is read once per transaction: the call and this check see the same rows
SELECT ok((pg_temp.envelope('health') -> 'connections' ->> 'total')::integer
              BETWEEN (SELECT count(*) FROM pg_stat_activity AS a
                        WHERE a.backend_type = 'client backend' AND a.datname = current_database())
                  AND (SELECT count(*) FROM pg_stat_activity AS a
                        WHERE a.backend_type = 'client backend'),
          'health: connections.total lies between this database''s client sessions and the '
          'server''s');
SELECT ok(jsonb_typeof(pg_temp.envelope('health') -> 'connections' -> 'usage_pct') = 'number'
          AND (pg_temp.envelope('health') -> 'connections' ->> 'usage_pct')::numeric BETWEEN 0 AND 100,
          'health: connections.usage_pct is a number between 0 and 100');
SELECT is((pg_temp.envelope('health') -> 'connections' ->> 'usage_pct')::numeric,
          round(100.0 * (pg_temp.envelope('health') -> 'connections' ->> 'total')::numeric
                / current_setting('max_connections')::numeric, 2),
          'health: connections.usage_pct is 100 * total / max, to 2 decimals');
SELECT ok(jsonb_typeof(pg_temp.envelope('health') -> 'cache_hit_ratio') = 'null'
          OR (jsonb_typeof(pg_temp.envelope('health') -> 'cache_hit_ratio') = 'number'
              AND (pg_temp.envelope('health') ->> 'cache_hit_ratio')::numeric BETWEEN 0 AND 1),
          'health: cache_hit_ratio is null or a number between 0 and 1');
SELECT ok(pg_temp.is_count(pg_temp.envelope('health') -> 'database_size_bytes')
          AND (pg_temp.envelope('health') ->> 'database_size_bytes')::bigint > 0,
          'health: database_size_bytes is a positive integer');
SELECT ok((pg_temp.envelope('health') ->> 'database_size_bytes')::numeric
              BETWEEN pg_database_size(current_database()) * 0.5
                  AND pg_database_size(current_database()) * 2,
          'health: database_size_bytes is about pg_database_size(current_database())');
SELECT ok(jsonb_typeof(pg_temp.envelope('health') -> 'longest_transaction_s') = 'number'
          AND (pg_temp.envelope('health') ->> 'longest_transaction_s')::numeric >= 0,
          'health: longest_transaction_s is a number >= 0');
SELECT ok(pg_temp.is_count(pg_temp.envelope('health') -> 'waiting_locks'),
          'health: waiting_locks is a non-negative integer');
SELECT ok(pg_temp.is_count(pg_temp.envelope('health') -> 'deadlocks'),
          'health: deadlocks is a non-negative integer');
SELECT is(pg_temp.changes('health'), '{}'::jsonb, 'health: nothing written');

-- ===========================================================================================
-- The roles read it through the function (the definer sees every session)
-- ===========================================================================================
SELECT is(pg_temp.envelope_shape(pg_temp.call_as('campaigndb_readonly',
                                                 $$SELECT get_database_health_metrics()$$)),
          pg_temp.success_shape(),
          'campaigndb_readonly reads the health metrics through the function');
SELECT ok((pg_temp.call_as('campaigndb_readonly', $$SELECT get_database_health_metrics()$$)
              -> 'connections' ->> 'active')::integer >= 1,
          'campaigndb_readonly: connections.active still counts this session');
SELECT is(pg_temp.envelope_shape(pg_temp.call_as('campaigndb_app',
                                                 $$SELECT get_database_health_metrics()$$)),
          pg_temp.success_shape(), 'campaigndb_app reads the health metrics through the function');

-- ===========================================================================================
-- Workspace binding: the metrics belong to no workspace; a bound session reads them too
-- ===========================================================================================
SET LOCAL campaigndb.workspace_id = 'bbbbbbbb-0000-4000-8000-000000000002';
SELECT is(pg_temp.envelope_shape(get_database_health_metrics()), pg_temp.success_shape(),
          'bound to a workspace: the health metrics are answered');
SET LOCAL campaigndb.workspace_id = 'not-a-uuid';
SELECT ok(NOT (pg_temp.envelope_or_raised($$SELECT get_database_health_metrics()$$) ? 'raised')
          AND pg_temp.envelope_or_raised($$SELECT get_database_health_metrics()$$)
              ?& ARRAY['success', 'error', 'error_code', 'retry_recommended'],
          'garbage campaigndb.workspace_id: an envelope, not an exception');
RESET campaigndb.workspace_id;

SELECT * FROM finish();
ROLLBACK;
