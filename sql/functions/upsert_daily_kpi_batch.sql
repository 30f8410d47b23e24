-- upsert_daily_kpi_batch: save a batch of daily KPI rows and its collection_log row in one
-- transaction: both or neither.
--
-- p_rows: a JSON array (at most 10,000, 54000) of objects with exactly the keys campaign_id,
-- kpi_date, platform, impressions, clicks, conversions, spend, revenue (docs/functions.md):
-- a missing key is 23502, an unknown key 22023, a repeated (campaign_id, kpi_date, platform)
-- 23505.  The whole batch is validated first; the error names the first bad element.
-- Upsert on (campaign_id, kpi_date, platform); identical rows are left alone (`unchanged`).
-- Idempotency: p_idempotency_key (optional, on the collection_log row): a repeat with the
-- same p_rows/p_source answers the first result with replayed: true; other input: 23505.
-- Isolation: READ COMMITTED.  Rows are written in key order: overlapping batches lock them in
-- the same order and do not deadlock.
-- SQLSTATEs in the envelope: 23502, 22023, 22P02, 22007, 22003, 23505, 54000, P0002, 42501.
-- SECURITY DEFINER: callers hold EXECUTE only, no table privileges.
CREATE OR REPLACE FUNCTION public.upsert_daily_kpi_batch(
    p_rows             jsonb,
    p_source           text,
    p_idempotency_key  text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    c_max_rows      constant integer := 10000;
    c_keys          constant text[] := ARRAY['campaign_id', 'kpi_date', 'platform',
                                             'impressions', 'clicks', 'spend', 'conversions',
                                             'revenue'];
    v_scope         uuid[];
    v_source        text := btrim(p_source);
    v_hash          text;
    v_problem       text;
    v_missing       uuid;
    v_campaigns     uuid[];
    v_found         uuid[];
    -- once, not in the DO UPDATE SET: Citus plans that clause only with immutable functions
    v_now           timestamptz := now();
    v_workspaces    uuid[];
    v_inserted      integer;
    v_updated       integer;
    v_first_date    date;
    v_last_date     date;
    v_result        jsonb;
    v_log_id        bigint;
    v_state text; v_msg text; v_detail text; v_hint text;
    v_constraint text; v_column text; v_table text;
BEGIN
    -- here, not in DECLARE: a malformed binding must reach the handler below (22023)
    v_scope := campaigndb.caller_workspaces(true);
    IF p_rows IS NULL THEN
        RAISE EXCEPTION 'p_rows is required' USING ERRCODE = '23502', COLUMN = 'rows';
    ELSIF jsonb_typeof(p_rows) <> 'array' THEN
        RAISE EXCEPTION 'p_rows must be a JSON array, got %', jsonb_typeof(p_rows)
              USING ERRCODE = '22023', COLUMN = 'rows';
    ELSIF jsonb_array_length(p_rows) > c_max_rows THEN
        RAISE EXCEPTION 'p_rows holds % elements; the limit is % per call',
                        jsonb_array_length(p_rows), c_max_rows
              USING ERRCODE = '54000', HINT = 'send the rows in several batches';
    ELSIF v_source IS NULL OR v_source = '' THEN
        RAISE EXCEPTION 'p_source is required' USING ERRCODE = '23502', COLUMN = 'source';
    ELSIF length(v_source) > 100 THEN
        RAISE EXCEPTION 'p_source is longer than 100 characters'
              USING ERRCODE = '22023', COLUMN = 'source';
    ELSIF p_idempotency_key IS NOT NULL AND length(p_idempotency_key) NOT BETWEEN 1 AND 200 THEN
        RAISE EXCEPTION 'p_idempotency_key must be 1 to 200 characters'
              USING ERRCODE = '22023', COLUMN = 'idempotency_key';
    END IF;

    v_hash := md5(jsonb_build_array('upsert_daily_kpi_batch', p_rows, v_source)::text);
    IF p_idempotency_key IS NOT NULL THEN
        -- a replay is answered before any work (a concurrent twin is caught at the log
        -- insert below)
        PERFORM FROM campaigndb.collection_log AS l
         WHERE l.idempotency_key = p_idempotency_key
           AND (v_scope IS NULL OR l.workspace_id = ANY (v_scope));
        IF FOUND THEN
            RAISE EXCEPTION 'idempotency key already used' USING ERRCODE = 'CD001';
        END IF;
    END IF;

    -- Validate every element before writing anything; name the first bad one.  A cheap pass
    -- first answers for the whole batch (exactly as strict as the query below, which is
    -- three times slower: it must say which element and field are wrong); only when it
    -- finds something does that query look for the first culprit.  (Each check reads the
    -- JSON value without casting, so no cast error can escape with a vaguer text.)
    IF EXISTS (
        SELECT 1 FROM jsonb_array_elements(p_rows) AS e(v)
         WHERE CASE WHEN jsonb_typeof(e.v) <> 'object' THEN true ELSE
                  e.v - c_keys <> '{}'::jsonb OR NOT e.v ?& c_keys
               OR jsonb_typeof(e.v -> 'campaign_id') <> 'string'
               OR (e.v ->> 'campaign_id') !~ '^[0-9A-Fa-f]{8}-?([0-9A-Fa-f]{4}-?){3}[0-9A-Fa-f]{12}$'
               OR jsonb_typeof(e.v -> 'kpi_date') <> 'string'
               OR (e.v ->> 'kpi_date') !~ '^[12][0-9]{3}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$'
               OR jsonb_typeof(e.v -> 'platform') <> 'string'
               OR length(btrim(e.v ->> 'platform')) NOT BETWEEN 1 AND 32
               OR jsonb_typeof(e.v -> 'impressions') <> 'number'
               OR jsonb_typeof(e.v -> 'clicks') <> 'number'
               OR jsonb_typeof(e.v -> 'conversions') <> 'number'
               OR (e.v ->> 'impressions') !~ '^[0-9]{1,18}(\.0+)?$'
               OR (e.v ->> 'clicks') !~ '^[0-9]{1,18}(\.0+)?$'
               OR (e.v ->> 'conversions') !~ '^[0-9]{1,18}(\.0+)?$'
               OR jsonb_typeof(e.v -> 'spend') NOT IN ('number', 'string')
               OR (e.v ->> 'spend') !~ '^\s*[0-9]{1,10}(\.[0-9]+)?\s*$'
               OR jsonb_typeof(e.v -> 'revenue') NOT IN ('number', 'string')
               OR (e.v ->> 'revenue') !~ '^\s*[0-9]{1,10}(\.[0-9]+)?\s*$'
               END)
       -- a date of the right shape that does not exist (2026-02-30): datetime() fails
       OR jsonb_path_exists(p_rows, 'strict $[*] ? ((@.kpi_date.datetime("YYYY-MM-DD")
                                                    == @.kpi_date.datetime("YYYY-MM-DD")) is unknown)')
    THEN
    SELECT p.problem INTO v_problem
      FROM (SELECT e.ord, CASE
              WHEN jsonb_typeof(e.v) <> 'object' THEN
                format('22023p_rows[%s] must be an object, got %s', e.ord - 1, jsonb_typeof(e.v))
              WHEN e.v - c_keys <> '{}'::jsonb THEN
                format('22023p_rows[%s] has an unknown key %s; the keys are %s', e.ord - 1,
                       (SELECT quote_literal(min(k)) FROM jsonb_object_keys(e.v - c_keys) AS k),
                       array_to_string(c_keys, ', '))
              WHEN miss.key IS NOT NULL THEN
                format('23502p_rows[%s].%s is required', e.ord - 1, miss.key)
              WHEN jsonb_typeof(e.v -> 'campaign_id') <> 'string' THEN
                format('22023p_rows[%s].campaign_id must be a string, got %s', e.ord - 1,
                       jsonb_typeof(e.v -> 'campaign_id'))
              WHEN (e.v ->> 'campaign_id') !~ '^[0-9A-Fa-f]{8}-?([0-9A-Fa-f]{4}-?){3}[0-9A-Fa-f]{12}$' THEN
                format('22P02p_rows[%s].campaign_id is not a uuid: %s', e.ord - 1,
                       quote_literal(left(e.v ->> 'campaign_id', 80)))
              WHEN jsonb_typeof(e.v -> 'kpi_date') <> 'string' THEN
                format('22023p_rows[%s].kpi_date must be a string YYYY-MM-DD, got %s', e.ord - 1,
                       jsonb_typeof(e.v -> 'kpi_date'))
              WHEN (e.v ->> 'kpi_date') !~ '^[12][0-9]{3}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$'
                   OR substr(e.v ->> 'kpi_date', 9, 2)::integer > extract(day FROM
                        date_trunc('month', (substr(e.v ->> 'kpi_date', 1, 7) || '-01')::date)
                        + interval '1 month - 1 day') THEN
                format('22007p_rows[%s].kpi_date is not a date YYYY-MM-DD: %s', e.ord - 1,
                       quote_literal(left(e.v ->> 'kpi_date', 40)))
              WHEN jsonb_typeof(e.v -> 'platform') <> 'string' THEN
                format('22023p_rows[%s].platform must be a string, got %s', e.ord - 1,
                       jsonb_typeof(e.v -> 'platform'))
              WHEN length(btrim(e.v ->> 'platform')) NOT BETWEEN 1 AND 32 THEN
                format('22023p_rows[%s].platform must be 1 to 32 characters', e.ord - 1)
              WHEN bad.key IS NOT NULL THEN
                format('%sp_rows[%s].%s must be %s, got %s',
                       CASE WHEN jsonb_typeof(e.v -> bad.key) = CASE bad.kind
                                       WHEN 'count' THEN 'number' ELSE jsonb_typeof(e.v -> bad.key) END
                                 AND (e.v ->> bad.key) ~ CASE bad.kind
                                       WHEN 'count' THEN '^[0-9]+(\.0+)?$'
                                       ELSE '^\s*[0-9]+(\.[0-9]+)?\s*$' END
                            THEN '22003'  -- the right kind of number, too large
                            ELSE '22023' END,
                       e.ord - 1, bad.key,
                       CASE bad.kind WHEN 'count' THEN 'a whole number from 0 to 10^18'
                                     ELSE 'a number from 0 to below 10^10' END,
                       left(e.v ->> bad.key, 40))
            END AS problem
              FROM jsonb_array_elements(p_rows) WITH ORDINALITY AS e(v, ord)
              LEFT JOIN LATERAL (
                    SELECT k.key FROM unnest(c_keys) WITH ORDINALITY AS k(key, n)
                     WHERE jsonb_typeof(e.v) = 'object'
                       AND COALESCE(jsonb_typeof(e.v -> k.key), 'null') = 'null'
                     ORDER BY k.n LIMIT 1) AS miss ON true
              LEFT JOIN LATERAL (
                    SELECT f.key, f.kind
                      FROM (VALUES (1, 'impressions', 'count'), (2, 'clicks', 'count'),
                                   (3, 'spend', 'money'), (4, 'conversions', 'count'),
                                   (5, 'revenue', 'money')) AS f(n, key, kind)
                     WHERE jsonb_typeof(e.v) = 'object'
                       AND NOT CASE f.kind
                             WHEN 'count' THEN jsonb_typeof(e.v -> f.key) = 'number'
                                  AND (e.v ->> f.key) ~ '^[0-9]{1,18}(\.0+)?$'
                             ELSE jsonb_typeof(e.v -> f.key) IN ('number', 'string')
                                  AND (e.v ->> f.key) ~ '^\s*[0-9]{1,10}(\.[0-9]+)?\s*$'
                           END
                     ORDER BY f.n LIMIT 1) AS bad ON true
           ) AS p
     WHERE p.problem IS NOT NULL
     ORDER BY p.ord
     LIMIT 1;
    IF v_problem IS NOT NULL THEN
        RAISE EXCEPTION '%', substr(v_problem, 6) USING ERRCODE = left(v_problem, 5);
    END IF;
    END IF;

    -- One row per key: the upsert could not apply two, and which should win is unknowable.
    SELECT format('p_rows[%s] and p_rows[%s] are both for campaign %s, %s, platform %s',
                  d.ords[1] - 1, d.ords[2] - 1, d.campaign_id, d.kpi_date, d.platform)
      INTO v_problem
      FROM (SELECT r.campaign_id, r.kpi_date, lower(btrim(r.platform)) AS platform,
                   array_agg(r.ord ORDER BY r.ord) AS ords
              FROM ROWS FROM (jsonb_to_recordset(p_rows)
                              AS (campaign_id uuid, kpi_date date, platform text))
                   WITH ORDINALITY AS r(campaign_id, kpi_date, platform, ord)
             GROUP BY 1, 2, 3
            HAVING count(*) > 1) AS d
     ORDER BY d.ords[2]
     LIMIT 1;
    IF v_problem IS NOT NULL THEN
        RAISE EXCEPTION '%', v_problem USING ERRCODE = '23505',
              CONSTRAINT = 'daily_kpi_data_pkey',
              HINT = 'send one row per campaign, date and platform';
    END IF;

    -- Every campaign must exist, and be the bound workspace's when a workspace is bound
    -- (one pass over the batch for its campaigns and dates).
    SELECT array_agg(DISTINCT (x ->> 'campaign_id')::uuid), min((x ->> 'kpi_date')::date),
           max((x ->> 'kpi_date')::date)
      INTO v_campaigns, v_first_date, v_last_date
      FROM jsonb_array_elements(p_rows) AS x;
    -- (no subquery correlated with unnest: Citus cannot plan one over a distributed table)
    SELECT array_agg(c.id) INTO v_found
      FROM campaigndb.campaigns AS c WHERE c.id = ANY (v_campaigns);
    SELECT r.id INTO v_missing
      FROM unnest(v_campaigns) AS r(id)
     WHERE r.id <> ALL (COALESCE(v_found, '{}'))
     LIMIT 1;
    IF v_missing IS NOT NULL THEN
        RAISE EXCEPTION 'campaign % not found', v_missing
              USING ERRCODE = 'P0002', TABLE = 'campaigns';
    END IF;
    SELECT array_agg(DISTINCT c.workspace_id) INTO v_workspaces
      FROM campaigndb.campaigns AS c
     WHERE c.id = ANY (v_campaigns);
    IF v_scope IS NOT NULL AND NOT v_workspaces <@ v_scope THEN
        PERFORM campaigndb.assert_workspace_access(c.workspace_id, 'campaign ' || c.id)
           FROM campaigndb.campaigns AS c
          WHERE c.id = ANY (v_campaigns) AND c.workspace_id <> ALL (v_scope);
    ELSIF v_scope IS NOT NULL AND cardinality(v_workspaces) > 1
          AND p_idempotency_key IS NOT NULL THEN
        -- a key lives in one workspace: a bound session's keyed batch names one
        RAISE EXCEPTION 'a batch with an idempotency key must stay within one workspace'
              USING ERRCODE = '22023', COLUMN = 'idempotency_key';
    END IF;

    WITH src AS (
        SELECT r.campaign_id, r.kpi_date, lower(btrim(r.platform)) AS platform,
               r.impressions::bigint AS impressions, r.clicks::bigint AS clicks,
               round(r.spend, 4) AS spend, r.conversions::bigint AS conversions,
               round(r.revenue, 4) AS revenue
          FROM jsonb_to_recordset(p_rows) AS r(campaign_id uuid, kpi_date date, platform text,
                                               impressions numeric, clicks numeric,
                                               spend numeric, conversions numeric,
                                               revenue numeric)
    ), upserted AS (
        INSERT INTO campaigndb.daily_kpi_data AS d
               (campaign_id, kpi_date, platform, impressions, clicks, spend, conversions,
                revenue, source)
        SELECT s.campaign_id, s.kpi_date, s.platform, s.impressions, s.clicks, s.spend,
               s.conversions, s.revenue, v_source
          FROM src AS s
         ORDER BY s.campaign_id, s.kpi_date, s.platform
        ON CONFLICT (campaign_id, kpi_date, platform) DO UPDATE
           SET impressions = EXCLUDED.impressions, clicks = EXCLUDED.clicks,
               spend = EXCLUDED.spend, conversions = EXCLUDED.conversions,
               revenue = EXCLUDED.revenue, source = EXCLUDED.source, updated_at = v_now
         WHERE (EXCLUDED.impressions, EXCLUDED.clicks, EXCLUDED.spend, EXCLUDED.conversions,
                EXCLUDED.revenue)
               IS DISTINCT FROM (d.impressions, d.clicks, d.spend, d.conversions, d.revenue)
        RETURNING (d.xmax = 0) AS inserted, d.kpi_date
    )
    SELECT count(*) FILTER (WHERE u.inserted), count(*) FILTER (WHERE NOT u.inserted)
      INTO v_inserted, v_updated
      FROM upserted AS u;

    v_result := jsonb_build_object(
        'upserted', v_inserted + v_updated, 'inserted', v_inserted, 'updated', v_updated,
        'unchanged', jsonb_array_length(p_rows) - v_inserted - v_updated,
        'first_date', v_first_date, 'last_date', v_last_date);
    INSERT INTO campaigndb.collection_log
           (workspace_id, job, period, status, rows_affected, started_at, finished_at, source,
            idempotency_key, request_hash, result)
    VALUES (CASE WHEN cardinality(v_workspaces) = 1 THEN v_workspaces[1]
                 WHEN cardinality(v_scope) = 1 THEN v_scope[1] END,
            'upsert_daily_kpi_batch',
            CASE WHEN v_first_date IS NULL THEN NULL
                 WHEN v_first_date = v_last_date THEN v_first_date::text
                 ELSE v_first_date || '..' || v_last_date END,
            'succeeded', v_inserted + v_updated, now(), clock_timestamp(), v_source,
            p_idempotency_key, v_hash, v_result)
    ON CONFLICT DO NOTHING  -- the key's index: (workspace_id, idempotency_key)
    RETURNING id INTO v_log_id;
    IF v_log_id IS NULL THEN
        -- a concurrent call with the same key committed first: undo ours, answer its result
        RAISE EXCEPTION 'idempotency key already used' USING ERRCODE = 'CD001';
    END IF;

    RETURN campaigndb.envelope_ok(v_result || jsonb_build_object(
        'collection_log_id', v_log_id, 'replayed', false));
EXCEPTION
    WHEN transaction_rollback THEN
        RAISE;  -- 40001/40P01 must reach the caller: the whole transaction is retried
    WHEN SQLSTATE 'CD001' THEN
        -- internal signal from above: the key is on a collection_log row already
        RETURN campaigndb.collection_log_replay(p_idempotency_key, 'upsert_daily_kpi_batch', v_hash, 'batch');
    WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_msg = MESSAGE_TEXT,
            v_detail = PG_EXCEPTION_DETAIL, v_hint = PG_EXCEPTION_HINT,
            v_constraint = CONSTRAINT_NAME, v_column = COLUMN_NAME, v_table = TABLE_NAME;
        RETURN campaigndb.envelope_error(v_state, v_msg, v_detail, v_hint,
                                         v_constraint, v_column, v_table);
END
$function$;

REVOKE ALL ON FUNCTION public.upsert_daily_kpi_batch(jsonb, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.upsert_daily_kpi_batch(jsonb, text, text) TO campaigndb_app;
