-- get_database_health_metrics: the server's vital signs for monitoring and the client's
-- health monitor: the server's client connections by state against max_connections, the
-- buffer cache hit ratio, the database size, the longest open transaction, waiting locks
-- and deadlocks so far (pg_stat_activity, pg_stat_database, pg_locks, settings).
-- The owning role should be a member of pg_monitor (superusers are): without it the states
-- of other roles' sessions are hidden and count as unknown.
-- Isolation: READ COMMITTED, read only.  SECURITY DEFINER: callers hold EXECUTE only.
CREATE OR REPLACE FUNCTION public.get_database_health_metrics()
RETURNS jsonb
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_connections  jsonb;
    v_max          integer := current_setting('max_connections')::integer;
    v_state text; v_msg text; v_detail text; v_hint text;
    v_constraint text; v_column text; v_table text;
BEGIN
    IF campaigndb.session_kind() IS DISTINCT FROM 'service' THEN  -- cluster-wide figures
        RAISE EXCEPTION 'database health is for service sessions only' USING ERRCODE = '42501';
    END IF;
    SELECT jsonb_build_object(
               'total', count(*),
               'active', count(*) FILTER (WHERE a.state = 'active'),
               'idle', count(*) FILTER (WHERE a.state = 'idle'),
               'idle_in_transaction', count(*) FILTER (WHERE a.state LIKE 'idle in transaction%'),
               'max', v_max,
               'usage_pct', round(100.0 * count(*) / v_max, 2))
      INTO v_connections
      FROM pg_stat_activity AS a
     WHERE a.backend_type = 'client backend';

    RETURN campaigndb.envelope_ok(jsonb_build_object(
        'connections', v_connections,
        'cache_hit_ratio',
            (SELECT round(d.blks_hit::numeric / NULLIF(d.blks_hit + d.blks_read, 0), 4)
               FROM pg_stat_database AS d WHERE d.datname = current_database()),
        'database_size_bytes', pg_database_size(current_database()),
        'longest_transaction_s',
            (SELECT COALESCE(round(extract(epoch FROM max(clock_timestamp() - a.xact_start))::numeric, 3), 0)
               FROM pg_stat_activity AS a
              WHERE a.xact_start IS NOT NULL AND a.backend_type = 'client backend'
                AND a.pid <> pg_backend_pid()),
        'waiting_locks', (SELECT count(*) FROM pg_locks AS l WHERE NOT l.granted),
        'deadlocks',
            (SELECT d.deadlocks FROM pg_stat_database AS d WHERE d.datname = current_database()),
        'measured_at', clock_timestamp()));
EXCEPTION
    WHEN transaction_rollback THEN
        RAISE;  -- 40001/40P01 must reach the caller: the whole transaction is retried
    WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_msg = MESSAGE_TEXT,
            v_detail = PG_EXCEPTION_DETAIL, v_hint = PG_EXCEPTION_HINT,
            v_constraint = CONSTRAINT_NAME, v_column = COLUMN_NAME, v_table = TABLE_NAME;
        RETURN campaigndb.envelope_error(v_state, v_msg, v_detail, v_hint,
                                         v_constraint, v_column, v_table);
END
$function$;

REVOKE ALL ON FUNCTION public.get_database_health_metrics() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.get_database_health_metrics() TO campaigndb_app, campaigndb_readonly;
