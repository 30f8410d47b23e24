-- source: sql/schema/60_reporting.sql
-- Reporting (KPI roll-up): what upsert_daily_kpi_batch and aggregate_monthly_kpis need on
-- collection_log to answer a retried call once (idempotency key, a hash of the request and
-- the first answer), and the source of each run.
ALTER TABLE campaigndb.collection_log
    ADD COLUMN source text CONSTRAINT collection_log_source_check
        CHECK (source IS NULL OR length(source) BETWEEN 1 AND 100),
    ADD COLUMN idempotency_key text CONSTRAINT collection_log_idempotency_key_key UNIQUE
        CONSTRAINT collection_log_idempotency_key_check
        CHECK (idempotency_key IS NULL OR length(idempotency_key) BETWEEN 1 AND 200),
    ADD COLUMN request_hash text,
    ADD COLUMN result jsonb;
COMMENT ON COLUMN campaigndb.collection_log.request_hash IS
    'md5 of the call''s parameters: a retry with the same idempotency key must match it';
COMMENT ON COLUMN campaigndb.collection_log.result IS
    'the success fields of the call that wrote this row, answered again on a replay';

-- source: sql/schema/61_error_codes.sql
-- SQLSTATEs added to the shared table in revision 0005 (see 20_error_codes.sql).
-- 54001: a JSON argument nested so deeply that the server's stack depth limit stops the
-- function while it reads it (a document just under ::jsonb's own nesting limit): bad
-- input, answered in the envelope, never worth retrying.
INSERT INTO campaigndb.error_codes
    (sqlstate, condition_name, retry_recommended, retry_after_ms, raised_in, meaning)
VALUES
    ('54001', 'statement_too_complex',         false, NULL, 'function',   'input nested too deeply (the server''s stack depth limit)');

-- source: sql/functions/record_transaction_metric.sql
-- record_transaction_metric: store one measurement of a call or transaction and return the
-- row's id (CONTRACT.md section 3, Observability: a uuid, not an envelope).
-- p_metric_id (optional, trailing) is the row's id chosen by the caller, and so its
-- idempotency key: a repeat with the same id and the same measurement returns that id and
-- stores nothing (a retry after a lost reply does not count the measurement twice); the
-- same id with another measurement raises 23505.
-- Raises on bad input: 23502 (operation, duration or success missing), 22023 (negative
-- duration or retries, over-long text), 23503 (unknown campaign), 42501 (campaign of
-- another workspace than the bound one), 23505 (id reused).
-- Isolation: READ COMMITTED; one INSERT.
-- SECURITY DEFINER: callers hold EXECUTE only, no table privileges.

-- the form without p_metric_id (revision 0004): replaced by the one below, whose trailing
-- default keeps every existing call valid
DROP FUNCTION IF EXISTS public.record_transaction_metric(varchar, uuid, integer, boolean, text,
                                                         integer, varchar);

CREATE OR REPLACE FUNCTION public.record_transaction_metric(
    p_operation_name   varchar,
    p_campaign_id      uuid,
    p_duration_ms      integer,
    p_success          boolean,
    p_error_message    text DEFAULT NULL,
    p_retry_count      integer DEFAULT 0,
    p_isolation_level  varchar DEFAULT NULL,
    p_metric_id        uuid DEFAULT NULL)
RETURNS uuid
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_workspace_id  uuid;
    v_id            uuid;
    v_prior         campaigndb.transaction_metrics%ROWTYPE;
BEGIN
    IF p_operation_name IS NULL OR p_operation_name ~ '^\s*$' THEN
        RAISE EXCEPTION 'p_operation_name is required' USING ERRCODE = '23502';
    ELSIF length(p_operation_name) > 255 OR length(p_isolation_level) > 50 THEN
        RAISE EXCEPTION 'p_operation_name (255) or p_isolation_level (50) is too long'
              USING ERRCODE = '22023';
    ELSIF p_duration_ms IS NULL OR p_success IS NULL THEN
        RAISE EXCEPTION 'p_duration_ms and p_success are required' USING ERRCODE = '23502';
    ELSIF p_duration_ms < 0 OR COALESCE(p_retry_count, 0) < 0 THEN
        RAISE EXCEPTION 'p_duration_ms and p_retry_count must be >= 0' USING ERRCODE = '22023';
    END IF;
    IF p_campaign_id IS NOT NULL THEN
        SELECT c.workspace_id INTO v_workspace_id FROM campaigndb.campaigns AS c
         WHERE c.id = p_campaign_id;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'campaign % does not exist', p_campaign_id
                  USING ERRCODE = '23503', COLUMN = 'campaign_id';
        END IF;
        PERFORM campaigndb.assert_workspace_access(v_workspace_id, 'campaign ' || p_campaign_id);
    END IF;
    INSERT INTO campaigndb.transaction_metrics
           (id, operation_name, campaign_id, duration_ms, success, error_message, retry_count,
            isolation_level)
    VALUES (COALESCE(p_metric_id, gen_random_uuid()), p_operation_name, p_campaign_id,
            p_duration_ms, p_success, left(p_error_message, 10000), COALESCE(p_retry_count, 0),
            p_isolation_level)
    ON CONFLICT (id) DO NOTHING
    RETURNING id INTO v_id;
    IF v_id IS NULL THEN
        SELECT * INTO v_prior FROM campaigndb.transaction_metrics AS m WHERE m.id = p_metric_id;
        IF (v_prior.operation_name, v_prior.campaign_id, v_prior.duration_ms, v_prior.success,
            v_prior.error_message, v_prior.retry_count, v_prior.isolation_level)
           IS NOT DISTINCT FROM
           (p_operation_name::varchar(255), p_campaign_id, p_duration_ms, p_success,
            left(p_error_message, 10000), COALESCE(p_retry_count, 0),
            p_isolation_level::varchar(50)) THEN
            RETURN p_metric_id;  -- the same measurement again: a retry
        END IF;
        RAISE EXCEPTION 'metric id % was already used for another measurement', p_metric_id
              USING ERRCODE = '23505', CONSTRAINT = 'transaction_metrics_pkey',
                    HINT = 'use a new id for a new measurement';
    END IF;
    RETURN v_id;
END
$function$;

REVOKE ALL ON FUNCTION public.record_transaction_metric(varchar, uuid, integer, boolean, text,
                                                        integer, varchar, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.record_transaction_metric(varchar, uuid, integer, boolean, text,
                                                           integer, varchar, uuid)
    TO campaigndb_app;

-- source: sql/functions/record_transaction_metrics.sql
-- record_transaction_metrics: many measurements in one INSERT (the client's background
-- recorder flushes its buffer with it, so that recording costs calls nothing).
-- p_metrics: a JSON array of {operation_name, campaign_id, duration_ms, success,
-- error_message, retry_count, isolation_level, created_at (epoch seconds)}; at most 10,000.
-- Elements whose campaign no longer exists (or is of another workspace than the bound one)
-- are stored without it.  The campaigns are looked up by primary key, once per distinct id
-- (a flush names a handful): a join of the whole batch with campaigns became a sequential
-- scan of that table per flush, whose page pins kept the hottest campaign rows from being
-- pruned (non-HOT updates, then serialization conflicts for the very calls being measured).
-- Returns the number of rows written; raises 22023/23502/54000 on a malformed batch.
-- SECURITY DEFINER: callers hold EXECUTE only, no table privileges.
CREATE OR REPLACE FUNCTION public.record_transaction_metrics(p_metrics jsonb)
RETURNS integer
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_bound  uuid := campaigndb.bound_workspace_id();
    v_rows   integer;
    v_ids    uuid[];
    v_known  uuid[];
BEGIN
    IF p_metrics IS NULL OR jsonb_typeof(p_metrics) <> 'array' THEN
        RAISE EXCEPTION 'p_metrics must be a JSON array' USING ERRCODE = '22023';
    ELSIF jsonb_array_length(p_metrics) > 10000 THEN
        RAISE EXCEPTION 'p_metrics holds % elements; the limit is 10000',
                        jsonb_array_length(p_metrics) USING ERRCODE = '54000';
    END IF;
    SELECT array_agg(DISTINCT m.campaign_id) INTO v_ids
      FROM jsonb_to_recordset(p_metrics) AS m(campaign_id uuid)
     WHERE m.campaign_id IS NOT NULL;
    SELECT array_agg(c.id) INTO v_known
      FROM campaigndb.campaigns AS c
     WHERE c.id = ANY (v_ids) AND (v_bound IS NULL OR c.workspace_id = v_bound);
    -- Time-ordered ids (the UUIDv7 layout: 48 bits of Unix milliseconds, version 7, then
    -- the random bits of gen_random_uuid): a flush's rows land on the right edge of the
    -- primary key instead of on random leaf pages, each of which costs a full-page image
    -- in the WAL after every checkpoint (716 -> 455 WAL bytes per row, measured; a
    -- track_campaign_cost call writes about 670, so this is most of what recording costs).
    INSERT INTO campaigndb.transaction_metrics
           (id, operation_name, campaign_id, duration_ms, success, error_message, retry_count,
            isolation_level, created_at)
    SELECT encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid())
                                          PLACING substring(int8send(floor(extract(epoch FROM
                                              clock_timestamp()) * 1000)::bigint) FROM 3)
                                          FROM 1 FOR 6), 52, 1), 53, 1), 'hex')::uuid,
           m.operation_name, CASE WHEN m.campaign_id = ANY (v_known) THEN m.campaign_id END,
           GREATEST(m.duration_ms, 0), m.success,
           left(m.error_message, 10000), GREATEST(COALESCE(m.retry_count, 0), 0),
           m.isolation_level, COALESCE(to_timestamp(m.created_at), now())
      FROM jsonb_to_recordset(p_metrics) AS m(operation_name varchar, campaign_id uuid,
                                              duration_ms integer, success boolean,
                                              error_message text, retry_count integer,
                                              isolation_level varchar,
                                              created_at double precision);
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    RETURN v_rows;
END
$function$;

REVOKE ALL ON FUNCTION public.record_transaction_metrics(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.record_transaction_metrics(jsonb) TO campaigndb_app;

-- source: sql/functions/collection_log_replay.sql
-- campaigndb.collection_log_replay: the answer to a call whose idempotency key is already on
-- a collection_log row (the reporting functions raise the internal SQLSTATE CD001 to reach
-- it).  p_job and p_hash identify the call: the same job and request hash replay the first
-- result (replayed: true); another workspace than the bound one answers 42501; anything
-- else is the key reused with other parameters (23505).  p_what names the unit for the hint
-- ('batch', 'run').  Runs inside the calling SECURITY DEFINER function, with its
-- pinned search_path.
CREATE OR REPLACE FUNCTION campaigndb.collection_log_replay(
    p_key   text,
    p_job   text,
    p_hash  text,
    p_what  text)
RETURNS jsonb
LANGUAGE plpgsql
STABLE
AS $function$
DECLARE
    v_bound  uuid := campaigndb.bound_workspace_id();
    v_prior  campaigndb.collection_log%ROWTYPE;
BEGIN
    SELECT * INTO v_prior FROM campaigndb.collection_log AS l
     WHERE l.idempotency_key OPERATOR(pg_catalog.=) p_key;
    IF v_bound IS NOT NULL AND v_prior.workspace_id IS DISTINCT FROM v_bound THEN
        -- another workspace's call (or one that spanned workspaces): not ours to answer
        RETURN campaigndb.envelope_error(
            '42501', 'idempotency key belongs to another workspace than the one this'
                     ' session is bound to',
            p_hint => 'campaigndb.workspace_id limits this session to one workspace');
    END IF;
    IF v_prior.job OPERATOR(pg_catalog.=) p_job
       AND v_prior.request_hash OPERATOR(pg_catalog.=) p_hash THEN
        RETURN campaigndb.envelope_ok(v_prior.result OPERATOR(pg_catalog.||)
            pg_catalog.jsonb_build_object('collection_log_id', v_prior.id, 'replayed', true));
    END IF;
    RETURN campaigndb.envelope_error(
        '23505',
        pg_catalog.format('idempotency key %s was already used with different parameters',
                          pg_catalog.quote_literal(p_key)),
        p_hint => pg_catalog.format('generate a new key for a new %s; reuse a key only to '
                                    'retry the same call', p_what),
        p_constraint => 'collection_log_idempotency_key_key');
END
$function$;

REVOKE ALL ON FUNCTION campaigndb.collection_log_replay(text, text, text, text) FROM PUBLIC;

-- source: sql/functions/upsert_daily_kpi_batch.sql
-- upsert_daily_kpi_batch: save a batch of daily KPI rows and its collection_log row, in one
-- transaction: either both are saved or neither is.
--
-- p_rows: a JSON array (at most 10,000 elements, 54000) of objects with exactly the keys
-- campaign_id (uuid string), kpi_date ('YYYY-MM-DD'), platform (1-32 characters, stored
-- trimmed and lower-case), impressions, clicks, conversions (whole numbers >= 0) and spend,
-- revenue (numbers >= 0 and < 1e10, or numeric strings; stored to 4 decimals).  Every key is
-- required: a row states the whole day of one platform, and a missing metric is an error
-- (23502) rather than a silent 0.  Unknown keys are refused (22023): a misspelt metric must
-- not vanish.  Two elements for the same (campaign_id, kpi_date, platform): 23505.
-- Upsert on (campaign_id, kpi_date, platform): a new key is inserted, an existing one with
-- other figures is replaced, an identical one is left alone (counted in `unchanged`).
-- p_source: who collected the rows (1-100 characters), stored on the rows and the log.
-- Validation runs over the whole batch before anything is written; the first bad element is
-- named by its index.  Unknown campaign: P0002; another workspace than the bound one: 42501.
--
-- Idempotency: p_idempotency_key (optional).  A repeat with the same key and the same
-- p_rows/p_source answers the first call's result with replayed: true and writes nothing;
-- same key, other parameters: 23505.  The key lives on the collection_log row.
-- Isolation: READ COMMITTED.  Rows are written in key order, so overlapping batches lock
-- them in the same order and do not deadlock.
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
    v_bound         uuid;
    v_source        text := btrim(p_source);
    v_hash          text;
    v_problem       text;
    v_missing       uuid;
    v_campaigns     uuid[];
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
    v_bound := campaigndb.bound_workspace_id();
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
         WHERE l.idempotency_key = p_idempotency_key;
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
    SELECT r.id INTO v_missing
      FROM unnest(v_campaigns) AS r(id)
     WHERE NOT EXISTS (SELECT 1 FROM campaigndb.campaigns AS c WHERE c.id = r.id)
     LIMIT 1;
    IF v_missing IS NOT NULL THEN
        RAISE EXCEPTION 'campaign % not found', v_missing
              USING ERRCODE = 'P0002', TABLE = 'campaigns';
    END IF;
    SELECT array_agg(DISTINCT c.workspace_id) INTO v_workspaces
      FROM campaigndb.campaigns AS c
     WHERE c.id = ANY (v_campaigns);
    IF v_bound IS NOT NULL AND v_workspaces <> ARRAY[v_bound] THEN
        PERFORM campaigndb.assert_workspace_access(c.workspace_id, 'campaign ' || c.id)
           FROM campaigndb.campaigns AS c
          WHERE c.id = ANY (v_campaigns) AND c.workspace_id <> v_bound;
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
               revenue = EXCLUDED.revenue, source = EXCLUDED.source, updated_at = now()
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
    VALUES (COALESCE(v_bound, CASE WHEN cardinality(v_workspaces) = 1 THEN v_workspaces[1] END),
            'upsert_daily_kpi_batch',
            CASE WHEN v_first_date IS NULL THEN NULL
                 WHEN v_first_date = v_last_date THEN v_first_date::text
                 ELSE v_first_date || '..' || v_last_date END,
            'succeeded', v_inserted + v_updated, now(), clock_timestamp(), v_source,
            p_idempotency_key, v_hash, v_result)
    ON CONFLICT (idempotency_key) DO NOTHING
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

-- source: sql/functions/aggregate_monthly_kpis.sql
-- aggregate_monthly_kpis: replace one month's campaign_summaries with the totals of
-- daily_kpi_data, and write its collection_log row, all or nothing.
--
-- p_month: any day of the month (the summary's period_start is its first day).
-- p_campaign_id: only that campaign (P0002 when it does not exist); NULL: every campaign,
-- or, when the session is bound to a workspace, every campaign of that workspace.
-- For each campaign in scope with daily rows in the month: the sums of impressions,
-- clicks, spend, conversions and revenue, days_reported (distinct dates), and the ratios
-- ctr = clicks / impressions, cpc = spend / clicks, conversion_rate = conversions / clicks,
-- roas = revenue / spend, each NULL when its divisor is 0 (rounded to 6 decimals).
-- The month's previous summaries in scope are deleted first, so a campaign whose rows are
-- gone loses its summary, and a re-run gives the same result (never doubled).
--
-- Concurrency: runs for the same month (any scope) are serialised by a transaction-level
-- advisory lock taken before anything is read; at READ COMMITTED the second run's
-- statements then see the first run's committed result and replace it with the same
-- figures.  A failure part-way (any error) undoes the whole call: the previous summaries
-- stay, and no collection_log row is written; the envelope reports the failure.
-- Idempotency: p_idempotency_key (optional), as in upsert_daily_kpi_batch: a retry of a
-- call that committed answers its first result with replayed: true.
-- SQLSTATEs in the envelope: 23502, 22023, P0002, 42501, 23505.
-- SECURITY DEFINER: callers hold EXECUTE only, no table privileges.
CREATE OR REPLACE FUNCTION public.aggregate_monthly_kpis(
    p_month            date,
    p_campaign_id      uuid DEFAULT NULL,
    p_idempotency_key  text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    -- first key of the advisory lock: this function's own namespace
    c_lock_space    constant integer := 727115001;
    v_bound         uuid;
    v_month         date;
    v_next          date;
    v_workspace_id  uuid;
    v_hash          text;
    v_deleted       integer;
    v_written       integer;
    v_result        jsonb;
    v_log_id        bigint;
    v_state text; v_msg text; v_detail text; v_hint text;
    v_constraint text; v_column text; v_table text;
BEGIN
    -- here, not in DECLARE: a malformed binding must reach the handler below (22023)
    v_bound := campaigndb.bound_workspace_id();
    IF p_month IS NULL THEN
        RAISE EXCEPTION 'p_month is required' USING ERRCODE = '23502', COLUMN = 'month';
    ELSIF p_month NOT BETWEEN DATE '1000-01-01' AND DATE '2999-12-31' THEN
        RAISE EXCEPTION 'p_month must be between 1000 and 2999, got %', p_month
              USING ERRCODE = '22023', COLUMN = 'month';
    ELSIF p_idempotency_key IS NOT NULL AND length(p_idempotency_key) NOT BETWEEN 1 AND 200 THEN
        RAISE EXCEPTION 'p_idempotency_key must be 1 to 200 characters'
              USING ERRCODE = '22023', COLUMN = 'idempotency_key';
    END IF;
    v_month := date_trunc('month', p_month)::date;
    v_next := (v_month + interval '1 month')::date;
    v_hash := md5(jsonb_build_array('aggregate_monthly_kpis', v_month, p_campaign_id)::text);

    IF p_idempotency_key IS NOT NULL THEN
        PERFORM FROM campaigndb.collection_log AS l
         WHERE l.idempotency_key = p_idempotency_key;
        IF FOUND THEN
            RAISE EXCEPTION 'idempotency key already used' USING ERRCODE = 'CD001';
        END IF;
    END IF;

    IF p_campaign_id IS NOT NULL THEN
        SELECT c.workspace_id INTO v_workspace_id FROM campaigndb.campaigns AS c
         WHERE c.id = p_campaign_id;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'campaign % not found', p_campaign_id
                  USING ERRCODE = 'P0002', TABLE = 'campaigns';
        END IF;
        PERFORM campaigndb.assert_workspace_access(v_workspace_id, 'campaign ' || p_campaign_id);
    ELSE
        v_workspace_id := v_bound;
    END IF;

    -- One run per month at a time.  At READ COMMITTED each statement below takes its
    -- snapshot after this lock is granted, so it sees a concurrent run's committed result.
    PERFORM pg_advisory_xact_lock(c_lock_space, hashtext(v_month::text));

    DELETE FROM campaigndb.campaign_summaries AS s
     WHERE s.period_type = 'month' AND s.period_start = v_month
       AND (p_campaign_id IS NULL OR s.campaign_id = p_campaign_id)
       AND (v_bound IS NULL OR p_campaign_id IS NOT NULL
            OR s.campaign_id IN (SELECT c.id FROM campaigndb.campaigns AS c
                                  WHERE c.workspace_id = v_bound));
    GET DIAGNOSTICS v_deleted = ROW_COUNT;

    INSERT INTO campaigndb.campaign_summaries
           (campaign_id, period_type, period_start, impressions, clicks, spend, conversions,
            revenue, ctr, cpc, conversion_rate, roas, days_reported, computed_at)
    SELECT t.campaign_id, 'month', v_month, t.impressions, t.clicks, t.spend, t.conversions,
           t.revenue,
           round(t.clicks::numeric / NULLIF(t.impressions, 0), 6),
           round(t.spend / NULLIF(t.clicks, 0), 6),
           round(t.conversions::numeric / NULLIF(t.clicks, 0), 6),
           round(t.revenue / NULLIF(t.spend, 0), 6),
           t.days_reported, now()
      FROM (SELECT d.campaign_id, sum(d.impressions)::bigint AS impressions,
                   sum(d.clicks)::bigint AS clicks, sum(d.spend) AS spend,
                   sum(d.conversions)::bigint AS conversions, sum(d.revenue) AS revenue,
                   count(DISTINCT d.kpi_date)::integer AS days_reported
              FROM campaigndb.daily_kpi_data AS d
             WHERE d.kpi_date >= v_month AND d.kpi_date < v_next
               AND (p_campaign_id IS NULL OR d.campaign_id = p_campaign_id)
               AND (v_bound IS NULL OR p_campaign_id IS NOT NULL
                    OR d.campaign_id IN (SELECT c.id FROM campaigndb.campaigns AS c
                                          WHERE c.workspace_id = v_bound))
             GROUP BY d.campaign_id) AS t;
    GET DIAGNOSTICS v_written = ROW_COUNT;

    v_result := jsonb_build_object(
        'summaries_written', v_written, 'summaries_replaced', v_deleted,
        'month', v_month, 'campaign_id', p_campaign_id);
    INSERT INTO campaigndb.collection_log
           (workspace_id, job, period, status, rows_affected, started_at, finished_at,
            idempotency_key, request_hash, result)
    VALUES (v_workspace_id, 'aggregate_monthly_kpis', to_char(v_month, 'YYYY-MM'),
            'succeeded', v_written, now(), clock_timestamp(), p_idempotency_key, v_hash,
            v_result)
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING id INTO v_log_id;
    IF v_log_id IS NULL THEN
        RAISE EXCEPTION 'idempotency key already used' USING ERRCODE = 'CD001';
    END IF;

    RETURN campaigndb.envelope_ok(v_result || jsonb_build_object(
        'collection_log_id', v_log_id, 'replayed', false));
EXCEPTION
    WHEN transaction_rollback THEN
        RAISE;  -- 40001/40P01 must reach the caller: the whole transaction is retried
    WHEN SQLSTATE 'CD001' THEN
        -- internal signal from above: the key is on a collection_log row already
        RETURN campaigndb.collection_log_replay(p_idempotency_key, 'aggregate_monthly_kpis', v_hash, 'run');
    WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_msg = MESSAGE_TEXT,
            v_detail = PG_EXCEPTION_DETAIL, v_hint = PG_EXCEPTION_HINT,
            v_constraint = CONSTRAINT_NAME, v_column = COLUMN_NAME, v_table = TABLE_NAME;
        RETURN campaigndb.envelope_error(v_state, v_msg, v_detail, v_hint,
                                         v_constraint, v_column, v_table);
END
$function$;

REVOKE ALL ON FUNCTION public.aggregate_monthly_kpis(date, uuid, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.aggregate_monthly_kpis(date, uuid, text) TO campaigndb_app;
