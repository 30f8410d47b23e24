-- source: sql/schema/63_first_contact.sql
-- Revision 0008 (docs/limits.md): money is micro-dollars, numeric(18,6) (below 1e12, six
-- decimals), and campaign rows get a page nearly to themselves so that the total's update
-- by track_campaign_cost always finds room for a HOT update.
--
-- fillfactor 10: an insert leaves 90 % of a page free (about 3 campaigns a page instead of
-- about 19), so a campaign's new row versions stay on its page (HOT: no new index entry).
-- A non-HOT update writes a campaigns_pkey entry into a leaf page that every concurrent
-- SERIALIZABLE caller of another campaign has predicate-locked, and makes them conflict.
-- Set before the type change below, whose table rewrite then packs existing rows this way.
ALTER TABLE campaigndb.campaigns SET (fillfactor = 10);

-- Narrowing numeric to numeric(18,6) rounds a value with more decimals (half away from
-- zero) and fails with 22003 on one of 1e12 or more.  The cost rows are rounded first, then
-- each total that no longer equals the sum of its rounded rows is recomputed from them, so
-- that total_cost = the sum of the cost rows still holds afterwards.  Each ALTER rewrites
-- its table under an ACCESS EXCLUSIVE lock (gmaps_api_costs: about 1 s per million rows).
ALTER TABLE campaigndb.gmaps_api_costs ALTER COLUMN cost_usd TYPE numeric(18,6);
UPDATE campaigndb.campaigns AS c
   SET total_cost = s.total
  FROM (SELECT k.campaign_id, sum(k.cost_usd) AS total
          FROM campaigndb.gmaps_api_costs AS k GROUP BY k.campaign_id) AS s
 WHERE s.campaign_id = c.id AND c.total_cost <> s.total;
ALTER TABLE campaigndb.campaigns ALTER COLUMN total_cost TYPE numeric(18,6);
ALTER TABLE campaigndb.gmaps_campaign_coverage
    ALTER COLUMN estimated_cost TYPE numeric(18,6),
    ALTER COLUMN actual_cost TYPE numeric(18,6);

-- source: sql/functions/envelope_error.sql
-- campaigndb.envelope_error: the failure envelope of CONTRACT.md section 1, built from the
-- diagnostics a function's handler read with GET STACKED DIAGNOSTICS.  This is the one
-- place that decides retry_recommended / retry_after_ms, from campaigndb.error_codes (the
-- SQLSTATE table the Python client is tested against).  Unknown SQLSTATEs are not retried.
CREATE OR REPLACE FUNCTION campaigndb.envelope_error(
    p_sqlstate    text,
    p_message     text,
    p_detail      text DEFAULT NULL,
    p_hint        text DEFAULT NULL,
    p_constraint  text DEFAULT NULL,
    p_column      text DEFAULT NULL,
    p_table       text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql
STABLE
AS $function$
DECLARE
    v_retry        boolean;
    v_retry_after  integer;
    v_envelope     jsonb;
    v_detail       jsonb;
BEGIN
    SELECT e.retry_recommended, e.retry_after_ms
      INTO v_retry, v_retry_after
      FROM campaigndb.error_codes AS e
     -- compared as bpchar, the key's own type: a char(5)-to-text comparison cannot use the
     -- primary key, and under a caller's enable_seqscan = off its cost estimate of 1e10
     -- made every failure pay for JIT compilation (docs/limits.md)
     WHERE e.sqlstate OPERATOR(pg_catalog.=) p_sqlstate::pg_catalog.bpchar;

    v_envelope := pg_catalog.jsonb_build_object(
        'success', false,
        'error', COALESCE(p_message, 'unknown error'),
        'error_code', p_sqlstate,
        'retry_recommended', COALESCE(v_retry, false));
    IF v_retry THEN
        v_envelope := v_envelope
            OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('retry_after_ms', v_retry_after);
    END IF;

    v_detail := pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
        'constraint', NULLIF(p_constraint, ''),
        'column', NULLIF(p_column, ''),
        'table', NULLIF(p_table, ''),
        -- a failing row's detail can carry a whole batch element: keep the start of it
        'detail', NULLIF(pg_catalog.left(p_detail, 500), ''),
        'hint', NULLIF(p_hint, '')));
    IF v_detail OPERATOR(pg_catalog.<>) '{}'::jsonb THEN
        v_envelope := v_envelope
            OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('error_detail', v_detail);
    END IF;
    RETURN v_envelope;
END
$function$;

REVOKE ALL ON FUNCTION campaigndb.envelope_error(text, text, text, text, text, text, text)
    FROM PUBLIC;

-- source: sql/functions/create_campaign_with_coverage.sql
-- create_campaign_with_coverage: create a campaign and its ZIP coverage rows, atomically.
--
-- p_campaign_data: {workspace_id (required), name (required), id, status, search_query,
--                   location, keywords (array of at most 1,000 strings, else 54000),
--                   settings (object)}; other keys are refused (22023) so that a misspelt
--                   field is not silently dropped.
-- p_zip_codes:     a JSON array of ZIP strings or {zip_code, estimated_cost} objects; ZIPs are
--                   trimmed, repeats collapse (the first occurrence wins); at most 50,000;
--                   estimated_cost is micro-dollars, numeric(18,6) (docs/limits.md).
-- Isolation: READ COMMITTED.  The coverage rows are one set-based INSERT ... SELECT.
-- Idempotency: p_campaign_data.id, a key within the workspace (revision 0007); a repeat with
-- the same id and the same input returns the first result with replayed: true; same id,
-- other input: 23505.  The answer's campaign_id is the campaign's id: the requested one,
-- unless another workspace holds it (then a new one; nothing about it is revealed).
-- SQLSTATEs in the envelope: 23502, 22023, 22P02, 23503 (workspace missing), 23514 (unknown
-- status), 23505, 54000 (too many ZIPs or keywords), 42501 (bound to another workspace),
-- 22003 (an estimated_cost of 1e12 or more).
-- SECURITY DEFINER: callers hold EXECUTE only, no table privileges.
CREATE OR REPLACE FUNCTION public.create_campaign_with_coverage(
    p_campaign_data  jsonb,
    p_zip_codes      jsonb)
RETURNS jsonb
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    c_max_zips      constant integer := 50000;
    c_max_keywords  constant integer := 1000;
    c_known_keys    constant text[] := ARRAY['id', 'workspace_id', 'name', 'status',
                                             'search_query', 'location', 'keywords', 'settings'];
    v_campaign_id   uuid;
    v_workspace_id  uuid;
    v_name          text;
    v_keywords      text[];
    v_settings      jsonb;
    v_unknown       text;
    v_problem       text;
    v_problem_code  text;
    v_fingerprint   bytea;
    v_prior         record;
    v_zip_count     integer;
    v_request_id    uuid;
    v_state text; v_msg text; v_detail text; v_hint text;
    v_constraint text; v_column text; v_table text;
BEGIN
    IF p_campaign_data IS NULL THEN
        RAISE EXCEPTION 'p_campaign_data is required' USING ERRCODE = '23502';
    ELSIF jsonb_typeof(p_campaign_data) <> 'object' THEN
        RAISE EXCEPTION 'p_campaign_data must be a JSON object, got %', jsonb_typeof(p_campaign_data)
              USING ERRCODE = '22023';
    ELSIF p_zip_codes IS NULL THEN
        RAISE EXCEPTION 'p_zip_codes is required' USING ERRCODE = '23502';
    ELSIF jsonb_typeof(p_zip_codes) <> 'array' THEN
        RAISE EXCEPTION 'p_zip_codes must be a JSON array, got %', jsonb_typeof(p_zip_codes)
              USING ERRCODE = '22023';
    ELSIF jsonb_array_length(p_zip_codes) > c_max_zips THEN
        RAISE EXCEPTION 'p_zip_codes holds % ZIP codes; the limit is % per call',
                        jsonb_array_length(p_zip_codes), c_max_zips
              USING ERRCODE = '54000', HINT = 'split the ZIP codes over several campaigns';
    END IF;

    SELECT string_agg(k, ', ' ORDER BY k) INTO v_unknown
      FROM jsonb_object_keys(p_campaign_data) AS k
     WHERE k <> ALL (c_known_keys);
    IF v_unknown IS NOT NULL THEN
        RAISE EXCEPTION 'p_campaign_data has unknown field(s): %', v_unknown
              USING ERRCODE = '22023', HINT = 'known fields: ' || array_to_string(c_known_keys, ', ');
    END IF;

    v_workspace_id := campaigndb.json_uuid(p_campaign_data, 'workspace_id',
                                           'p_campaign_data.workspace_id', true);
    v_campaign_id := campaigndb.json_uuid(p_campaign_data, 'id', 'p_campaign_data.id');
    v_name := campaigndb.json_text(p_campaign_data, 'name', 'p_campaign_data.name', true, 200);

    IF p_campaign_data ? 'keywords' AND jsonb_typeof(p_campaign_data -> 'keywords') <> 'null' THEN
        -- the length is read from the array's header, before any element is expanded
        IF jsonb_typeof(p_campaign_data -> 'keywords') = 'array'
           AND jsonb_array_length(p_campaign_data -> 'keywords') > c_max_keywords THEN
            RAISE EXCEPTION 'p_campaign_data.keywords holds % keywords; the limit is %',
                            jsonb_array_length(p_campaign_data -> 'keywords'), c_max_keywords
                  USING ERRCODE = '54000', COLUMN = 'keywords';
        END IF;
        IF jsonb_typeof(p_campaign_data -> 'keywords') <> 'array'
           OR EXISTS (SELECT 1 FROM jsonb_array_elements(p_campaign_data -> 'keywords') AS k
                       WHERE jsonb_typeof(k) <> 'string') THEN
            RAISE EXCEPTION 'p_campaign_data.keywords must be an array of strings'
                  USING ERRCODE = '22023', COLUMN = 'keywords';
        END IF;
        SELECT array_agg(k) INTO v_keywords
          FROM jsonb_array_elements_text(p_campaign_data -> 'keywords') AS k;
    END IF;
    v_settings := COALESCE(NULLIF(p_campaign_data -> 'settings', 'null'::jsonb), '{}'::jsonb);
    IF jsonb_typeof(v_settings) <> 'object' THEN
        RAISE EXCEPTION 'p_campaign_data.settings must be a JSON object'
              USING ERRCODE = '22023', COLUMN = 'settings';
    END IF;

    -- The first bad ZIP element, if any, with a message naming its index.
    SELECT z.problem, z.code INTO v_problem, v_problem_code
      FROM (SELECT e.ord,
                   CASE
                     WHEN e.kind NOT IN ('string', 'object') THEN
                       format('p_zip_codes[%s] must be a string or an object, got %s',
                              e.ord - 1, e.kind)
                     WHEN e.kind = 'object' AND (e.v - 'zip_code' - 'estimated_cost') <> '{}' THEN
                       format('p_zip_codes[%s] has unknown field(s); allowed: zip_code, estimated_cost',
                              e.ord - 1)
                     WHEN e.kind = 'object'
                          AND jsonb_typeof(e.v -> 'zip_code') IS DISTINCT FROM 'string' THEN
                       format('p_zip_codes[%s].zip_code is required and must be a string', e.ord - 1)
                     WHEN btrim(e.zip) !~ '^[A-Za-z0-9][A-Za-z0-9 -]{0,15}$' THEN
                       format('p_zip_codes[%s] is not a ZIP code: %s', e.ord - 1,
                              quote_literal(left(e.zip, 40)))
                     WHEN e.kind = 'object'
                          AND jsonb_typeof(e.v -> 'estimated_cost') NOT IN ('number', 'null') THEN
                       format('p_zip_codes[%s].estimated_cost must be a number', e.ord - 1)
                     WHEN e.kind = 'object' AND jsonb_typeof(e.v -> 'estimated_cost') = 'number'
                          AND (e.v ->> 'estimated_cost')::numeric < 0 THEN
                       format('p_zip_codes[%s].estimated_cost must be >= 0', e.ord - 1)
                     WHEN e.kind = 'object' AND jsonb_typeof(e.v -> 'estimated_cost') = 'number'
                          AND (e.v ->> 'estimated_cost')::numeric >= 1e12 THEN
                       format('p_zip_codes[%s].estimated_cost must be below 1e12', e.ord - 1)
                     WHEN e.kind = 'object' AND jsonb_typeof(e.v -> 'estimated_cost') = 'number'
                          AND round((e.v ->> 'estimated_cost')::numeric, 6)
                              <> (e.v ->> 'estimated_cost')::numeric THEN
                       format('p_zip_codes[%s].estimated_cost has more than 6 decimal places '
                              '(micro-dollars)', e.ord - 1)
                   END AS problem,
                   CASE  -- same order as above: a missing zip_code is 23502, a cost
                         -- of 1e12 or more 22003
                     WHEN e.kind NOT IN ('string', 'object') THEN '22023'
                     WHEN e.kind = 'object' AND (e.v - 'zip_code' - 'estimated_cost') <> '{}'
                       THEN '22023'
                     WHEN e.kind = 'object'
                          AND COALESCE(jsonb_typeof(e.v -> 'zip_code'), 'null') = 'null'
                       THEN '23502'
                     WHEN e.kind = 'object' AND jsonb_typeof(e.v -> 'estimated_cost') = 'number'
                          AND btrim(e.zip) ~ '^[A-Za-z0-9][A-Za-z0-9 -]{0,15}$'
                          AND (e.v ->> 'estimated_cost')::numeric >= 1e12 THEN '22003'
                     ELSE '22023'
                   END AS code
              FROM (SELECT a.ord, a.v, jsonb_typeof(a.v) AS kind,
                           CASE jsonb_typeof(a.v)
                             WHEN 'string' THEN a.v #>> '{}'
                             WHEN 'object' THEN a.v ->> 'zip_code'
                           END AS zip
                      FROM jsonb_array_elements(p_zip_codes) WITH ORDINALITY AS a(v, ord)) AS e
           ) AS z
     WHERE z.problem IS NOT NULL
     ORDER BY z.ord
     LIMIT 1;
    IF v_problem IS NOT NULL THEN
        RAISE EXCEPTION '%', v_problem USING ERRCODE = v_problem_code, COLUMN = 'zip_code';
    END IF;

    IF NOT EXISTS (SELECT 1 FROM campaigndb.workspaces AS w WHERE w.id = v_workspace_id) THEN
        RAISE EXCEPTION 'workspace % does not exist', v_workspace_id
              USING ERRCODE = '23503', CONSTRAINT = 'campaigns_workspace_id_fkey',
                    TABLE = 'campaigns', COLUMN = 'workspace_id';
    END IF;
    PERFORM campaigndb.assert_workspace_access(v_workspace_id, 'workspace ' || v_workspace_id);

    -- uuids in canonical form, so that a repeat spelling them otherwise is still a replay
    v_fingerprint := sha256(convert_to(
        (p_campaign_data || jsonb_build_object('workspace_id', v_workspace_id)
            || CASE WHEN v_campaign_id IS NULL THEN '{}'::jsonb
                    ELSE jsonb_build_object('id', v_campaign_id) END)::text
        || p_zip_codes::text, 'UTF8'));

    -- The client's id is a key within its workspace (request_id): a repeat finds its first
    -- call there; an id another workspace holds is never seen, this campaign gets its own.
    v_request_id := v_campaign_id;
    FOR v_try IN 1..2 LOOP
        INSERT INTO campaigndb.campaigns
               (id, request_id, workspace_id, name, status, search_query, location, keywords,
                settings, creation_fingerprint)
        VALUES (CASE WHEN v_try = 1 THEN COALESCE(v_request_id, gen_random_uuid())
                     ELSE gen_random_uuid() END,
                v_request_id, v_workspace_id, v_name,
                COALESCE(campaigndb.json_text(p_campaign_data, 'status', 'p_campaign_data.status',
                                              false, 32), 'draft'),
                campaigndb.json_text(p_campaign_data, 'search_query', 'p_campaign_data.search_query'),
                campaigndb.json_text(p_campaign_data, 'location', 'p_campaign_data.location'),
                COALESCE(v_keywords, '{}'), v_settings, v_fingerprint)
        ON CONFLICT DO NOTHING
        RETURNING id INTO v_campaign_id;
        EXIT WHEN FOUND;

        -- the key exists in this workspace: a replay when the input is the same
        SELECT c.id, c.creation_fingerprint INTO v_prior
          FROM campaigndb.campaigns AS c
         WHERE c.workspace_id = v_workspace_id AND c.request_id = v_request_id;
        IF FOUND THEN
            IF v_prior.creation_fingerprint IS DISTINCT FROM v_fingerprint THEN
                RAISE EXCEPTION 'campaign % already exists with different data', v_request_id
                      USING ERRCODE = '23505', CONSTRAINT = 'campaigns_pkey',
                            HINT = 'use a new id for a new campaign; reuse an id only to retry the same call';
            END IF;
            SELECT count(*) INTO v_zip_count
              FROM campaigndb.gmaps_campaign_coverage AS g WHERE g.campaign_id = v_prior.id;
            RETURN campaigndb.envelope_ok(jsonb_build_object(
                'campaign_id', v_prior.id, 'zip_count', v_zip_count, 'replayed', true));
        END IF;
    END LOOP;
    IF v_campaign_id IS NULL THEN
        RAISE EXCEPTION 'campaign id conflict, retry' USING ERRCODE = '40001';
    END IF;

    INSERT INTO campaigndb.gmaps_campaign_coverage (campaign_id, zip_code, estimated_cost)
    SELECT DISTINCT ON (s.zip) v_campaign_id, s.zip, s.estimated_cost
      FROM (SELECT btrim(CASE jsonb_typeof(a.v)
                           WHEN 'string' THEN a.v #>> '{}'
                           ELSE a.v ->> 'zip_code'
                         END) AS zip,
                   CASE WHEN jsonb_typeof(a.v -> 'estimated_cost') = 'number'
                        THEN (a.v ->> 'estimated_cost')::numeric END AS estimated_cost,
                   a.ord
              FROM jsonb_array_elements(p_zip_codes) WITH ORDINALITY AS a(v, ord)) AS s
     ORDER BY s.zip, s.ord;
    GET DIAGNOSTICS v_zip_count = ROW_COUNT;

    RETURN campaigndb.envelope_ok(jsonb_build_object(
        'campaign_id', v_campaign_id, 'zip_count', v_zip_count, 'replayed', false));
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

REVOKE ALL ON FUNCTION public.create_campaign_with_coverage(jsonb, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.create_campaign_with_coverage(jsonb, jsonb) TO campaigndb_app;

-- source: sql/functions/track_campaign_cost.sql
-- track_campaign_cost: record one API cost row and add it to campaigns.total_cost, atomically.
--
-- Isolation: SERIALIZABLE, declared below (default_transaction_isolation) so that callers
-- that open the transaction from the function's settings (PostgREST) use it too.  The
-- campaign row is locked FOR NO KEY UPDATE before anything is written, so the total is also
-- exact at READ COMMITTED: concurrent callers queue on the row instead of losing an update.
-- Under SERIALIZABLE a caller that waited for that lock gets 40001 (its snapshot is older
-- than the row); 40001/40P01 are never caught here, the caller retries the transaction.
--
-- SSI hygiene, so that callers on different campaigns never conflict:
--   * enable_seqscan = off: a sequential scan of a small table would take a relation-wide
--     predicate lock and make every concurrent caller a conflict;
--   * the idempotency check is INSERT ... ON CONFLICT, whose uniqueness probe takes no
--     predicate lock; the existing row is read only on a replay;
--   * campaigns has fillfactor 10 so that the total's update stays HOT (no index write);
--   * jit = off: enable_seqscan = off prices any scan that cannot use an index at 1e10,
--     far above jit_above_cost, and JIT never pays for itself on a one-row call.
-- Money is micro-dollars, numeric(18,6): p_cost_usd with more than 6 decimals: 22023; at or
-- above 1e12, or a total that would reach 1e12: 22003 (docs/limits.md).
-- update_campaign_statistics never holds this row's lock while it counts, so a recount
-- delays this function by at most its own short UPDATE and commit.
-- Order: UPDATE the campaign (row lock), INSERT the cost row; a reused key leaves through
-- the handler (SQLSTATE CD001, internal), which undoes the UPDATE and answers the replay.
--
-- Idempotency: p_idempotency_key, a key per campaign (revision 0007); a repeat with the same key and parameters returns the
-- first cost_id with replayed: true and adds nothing; same key, other parameters: 23505.
-- SQLSTATEs in the envelope: 23502, 22023, 22003, P0002, 42501, 23505, 55P03.
-- SECURITY DEFINER: callers hold EXECUTE only, no table privileges.
CREATE OR REPLACE FUNCTION public.track_campaign_cost(
    p_campaign_id      uuid,
    p_service          varchar,
    p_items_processed  integer,
    p_cost_usd         numeric,
    p_metadata         jsonb,
    p_idempotency_key  text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET default_transaction_isolation = 'serializable'
SET enable_seqscan = off
SET jit = off
AS $function$
DECLARE
    v_metadata      jsonb := COALESCE(p_metadata, '{}'::jsonb);
    v_workspace_id  uuid;
    v_cost_id       uuid;
    v_total         numeric;
    v_prior         campaigndb.gmaps_api_costs%ROWTYPE;
    v_state text; v_msg text; v_detail text; v_hint text;
    v_constraint text; v_column text; v_table text;
BEGIN
    IF p_campaign_id IS NULL THEN
        RAISE EXCEPTION 'p_campaign_id is required' USING ERRCODE = '23502', COLUMN = 'campaign_id';
    ELSIF p_service IS NULL OR btrim(p_service) = '' THEN
        RAISE EXCEPTION 'p_service is required' USING ERRCODE = '23502', COLUMN = 'service';
    ELSIF length(p_service) > 64 THEN
        RAISE EXCEPTION 'p_service is longer than 64 characters'
              USING ERRCODE = '22023', COLUMN = 'service';
    ELSIF p_items_processed IS NULL THEN
        RAISE EXCEPTION 'p_items_processed is required'
              USING ERRCODE = '23502', COLUMN = 'items_processed';
    ELSIF p_items_processed < 0 THEN
        RAISE EXCEPTION 'p_items_processed must be >= 0, got %', p_items_processed
              USING ERRCODE = '22023', COLUMN = 'items_processed';
    ELSIF p_cost_usd IS NULL THEN
        RAISE EXCEPTION 'p_cost_usd is required' USING ERRCODE = '23502', COLUMN = 'cost_usd';
    ELSIF p_cost_usd IN ('NaN'::numeric, 'Infinity'::numeric, '-Infinity'::numeric)
          OR p_cost_usd < 0 THEN
        RAISE EXCEPTION 'p_cost_usd must be a finite number >= 0, got %', p_cost_usd
              USING ERRCODE = '22023', COLUMN = 'cost_usd';
    ELSIF p_cost_usd >= 1e12 THEN
        RAISE EXCEPTION 'p_cost_usd must be below 1e12, got %', p_cost_usd
              USING ERRCODE = '22003', COLUMN = 'cost_usd';
    ELSIF round(p_cost_usd, 6) <> p_cost_usd THEN
        RAISE EXCEPTION 'p_cost_usd has more than 6 decimal places (micro-dollars), got %',
                        left(p_cost_usd::text, 40)
              USING ERRCODE = '22023', COLUMN = 'cost_usd',
                    HINT = 'round the cost to 6 decimal places';
    ELSIF jsonb_typeof(v_metadata) <> 'object' THEN
        RAISE EXCEPTION 'p_metadata must be a JSON object, got %', jsonb_typeof(v_metadata)
              USING ERRCODE = '22023', COLUMN = 'metadata';
    ELSIF p_idempotency_key IS NOT NULL AND length(p_idempotency_key) NOT BETWEEN 1 AND 200 THEN
        RAISE EXCEPTION 'p_idempotency_key must be 1 to 200 characters'
              USING ERRCODE = '22023', COLUMN = 'idempotency_key';
    END IF;

    -- The UPDATE takes the campaign row lock first: concurrent callers of one campaign queue
    -- here, and everything below runs while this caller holds it.
    UPDATE campaigndb.campaigns AS c
       SET total_cost = c.total_cost + p_cost_usd,
           updated_at = now()
     WHERE c.id = p_campaign_id
       AND c.total_cost + p_cost_usd < 1e12  -- numeric(18,6): see the check below
    RETURNING c.workspace_id, c.total_cost INTO v_workspace_id, v_total;
    IF NOT FOUND THEN
        SELECT c.total_cost INTO v_total FROM campaigndb.campaigns AS c
         WHERE c.id = p_campaign_id;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'campaign % not found', p_campaign_id
                  USING ERRCODE = 'P0002', TABLE = 'campaigns';
        END IF;
        RAISE EXCEPTION 'p_cost_usd % would bring the campaign''s total_cost (%) to 1e12 or more',
                        p_cost_usd, v_total
              USING ERRCODE = '22003', COLUMN = 'cost_usd', TABLE = 'campaigns';
    END IF;
    PERFORM campaigndb.assert_workspace_access(v_workspace_id, 'campaign ' || p_campaign_id);

    INSERT INTO campaigndb.gmaps_api_costs
           (campaign_id, service, items_processed, cost_usd, metadata, idempotency_key)
    VALUES (p_campaign_id, p_service, p_items_processed, p_cost_usd, v_metadata,
            p_idempotency_key)
    ON CONFLICT (campaign_id, idempotency_key) DO NOTHING
    RETURNING id INTO v_cost_id;
    IF v_cost_id IS NULL THEN
        -- The key was used before.  Undo the addition above by leaving through the handler
        -- (its subtransaction rolls back), which then tells a replay from a mismatch.
        RAISE EXCEPTION 'idempotency key already used' USING ERRCODE = 'CD001';
    END IF;

    RETURN campaigndb.envelope_ok(jsonb_build_object(
        'cost_id', v_cost_id, 'new_total_cost', v_total, 'replayed', false));
EXCEPTION
    WHEN transaction_rollback THEN
        RAISE;  -- 40001/40P01 must reach the caller: the whole transaction is retried
    WHEN SQLSTATE 'CD001' THEN
        -- internal signal from above: a replay when every parameter matches the first call
        SELECT * INTO v_prior FROM campaigndb.gmaps_api_costs AS k
         WHERE k.campaign_id = p_campaign_id AND k.idempotency_key = p_idempotency_key;
        IF v_prior.service = p_service
           AND v_prior.items_processed = p_items_processed AND v_prior.cost_usd = p_cost_usd
           AND v_prior.metadata = v_metadata THEN
            SELECT c.total_cost INTO v_total FROM campaigndb.campaigns AS c
             WHERE c.id = p_campaign_id;
            RETURN campaigndb.envelope_ok(jsonb_build_object(
                'cost_id', v_prior.id, 'new_total_cost', v_total, 'replayed', true));
        END IF;
        RETURN campaigndb.envelope_error(
            '23505',
            format('idempotency key %s was already used with different parameters',
                   quote_literal(p_idempotency_key)),
            p_hint => 'generate a new key for a new cost; reuse a key only to retry the same call',
            p_constraint => 'gmaps_api_costs_idempotency_key_key');
    WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_msg = MESSAGE_TEXT,
            v_detail = PG_EXCEPTION_DETAIL, v_hint = PG_EXCEPTION_HINT,
            v_constraint = CONSTRAINT_NAME, v_column = COLUMN_NAME, v_table = TABLE_NAME;
        RETURN campaigndb.envelope_error(v_state, v_msg, v_detail, v_hint,
                                         v_constraint, v_column, v_table);
END
$function$;

REVOKE ALL ON FUNCTION public.track_campaign_cost(uuid, varchar, integer, numeric, jsonb, text)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.track_campaign_cost(uuid, varchar, integer, numeric, jsonb, text)
    TO campaigndb_app;

-- source: sql/functions/update_campaign_statistics.sql
-- update_campaign_statistics: recompute a campaign's totals from its rows (never increments).
-- Isolation: READ COMMITTED.  Recounts of one campaign queue on a transaction-level advisory
-- lock of their own (namespace 0x43444202, the campaign id's first 4 bytes as the key; the
-- client's hot-row lock uses 0x43444201), held until commit, so concurrent recomputations
-- never interleave; each counts in a statement that starts after it holds that lock, so it
-- sees every batch committed before it.  The campaign row itself is locked only by the
-- final UPDATE, and only when a figure changed: track_campaign_cost, which updates that row
-- on every call, never waits for the count (docs/limits.md).  Business inserts take only
-- KEY SHARE on the campaign: they are never blocked by either lock.
-- SQLSTATEs in the envelope: 23502, P0002, 42501.
-- SECURITY DEFINER: callers hold EXECUTE only, no table privileges.
CREATE OR REPLACE FUNCTION public.update_campaign_statistics(p_campaign_id uuid)
RETURNS jsonb
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_workspace_id  uuid;
    v_businesses    integer;
    v_emails        integer;
    v_facebook      integer;
    v_linkedin      integer;
    v_state text; v_msg text; v_detail text; v_hint text;
    v_constraint text; v_column text; v_table text;
BEGIN
    IF p_campaign_id IS NULL THEN
        RAISE EXCEPTION 'p_campaign_id is required' USING ERRCODE = '23502', COLUMN = 'campaign_id';
    END IF;
    SELECT c.workspace_id INTO v_workspace_id FROM campaigndb.campaigns AS c
     WHERE c.id = p_campaign_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'campaign % not found', p_campaign_id
              USING ERRCODE = 'P0002', TABLE = 'campaigns';
    END IF;
    PERFORM campaigndb.assert_workspace_access(v_workspace_id, 'campaign ' || p_campaign_id);
    PERFORM pg_advisory_xact_lock(
        1128546818,  -- 0x43444202: recounts
        ('x' || left(replace(p_campaign_id::text, '-', ''), 8))::bit(32)::integer);

    SELECT count(*),
           count(*) FILTER (WHERE b.email <> ''),
           count(*) FILTER (WHERE b.facebook_url <> ''),
           count(*) FILTER (WHERE b.linkedin_url <> '')
      INTO v_businesses, v_emails, v_facebook, v_linkedin
      FROM campaigndb.gmaps_businesses AS b
     WHERE b.campaign_id = p_campaign_id;

    UPDATE campaigndb.campaigns AS c
       SET total_businesses = v_businesses,
           total_emails = v_emails,
           total_facebook_pages = v_facebook,
           total_linkedin_profiles = v_linkedin,
           updated_at = now()
     WHERE c.id = p_campaign_id
       AND (c.total_businesses, c.total_emails, c.total_facebook_pages,
            c.total_linkedin_profiles)
           IS DISTINCT FROM (v_businesses, v_emails, v_facebook, v_linkedin);

    RETURN campaigndb.envelope_ok(jsonb_build_object(
        'total_businesses', v_businesses, 'total_emails', v_emails,
        'total_facebook_pages', v_facebook, 'total_linkedin_profiles', v_linkedin));
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

REVOKE ALL ON FUNCTION public.update_campaign_statistics(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.update_campaign_statistics(uuid) TO campaigndb_app;

-- source: sql/functions/update_coverage_status.sql
-- update_coverage_status: record the outcome of scraping one ZIP code of a campaign.
-- Sets businesses_found, emails_found, actual_cost, status (default 'completed'; also
-- 'scraping', 'failed', 'skipped', 'pending') and scraped_at.  Repeating the call with the
-- same values leaves the same row: it is idempotent by nature.
-- Isolation: READ COMMITTED; one single-row UPDATE.
-- p_actual_cost is micro-dollars, numeric(18,6): more than 6 decimals 22023, 1e12 or more
-- 22003 (docs/limits.md).
-- SQLSTATEs in the envelope: 23502, 22023 (negative counts or cost, NaN), 22003, 23514 (unknown
-- status), P0002 (campaign, or the ZIP in its coverage, not found), 42501.
-- SECURITY DEFINER: callers hold EXECUTE only, no table privileges.
CREATE OR REPLACE FUNCTION public.update_coverage_status(
    p_campaign_id       uuid,
    p_zip_code          varchar,
    p_businesses_found  integer,
    p_emails_found      integer,
    p_actual_cost       numeric,
    p_status            text DEFAULT 'completed')
RETURNS jsonb
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_workspace_id  uuid;
    v_status        text;
    v_state text; v_msg text; v_detail text; v_hint text;
    v_constraint text; v_column text; v_table text;
BEGIN
    IF p_campaign_id IS NULL THEN
        RAISE EXCEPTION 'p_campaign_id is required' USING ERRCODE = '23502', COLUMN = 'campaign_id';
    ELSIF p_zip_code IS NULL OR btrim(p_zip_code) = '' THEN
        RAISE EXCEPTION 'p_zip_code is required' USING ERRCODE = '23502', COLUMN = 'zip_code';
    ELSIF p_businesses_found IS NULL OR p_emails_found IS NULL THEN
        RAISE EXCEPTION 'p_businesses_found and p_emails_found are required'
              USING ERRCODE = '23502';
    ELSIF p_businesses_found < 0 OR p_emails_found < 0 THEN
        RAISE EXCEPTION 'p_businesses_found and p_emails_found must be >= 0, got % and %',
                        p_businesses_found, p_emails_found USING ERRCODE = '22023';
    ELSIF p_emails_found > p_businesses_found THEN
        RAISE EXCEPTION 'p_emails_found (%) cannot exceed p_businesses_found (%)',
                        p_emails_found, p_businesses_found USING ERRCODE = '22023';
    ELSIF p_actual_cost IN ('NaN'::numeric, 'Infinity'::numeric, '-Infinity'::numeric)
          OR p_actual_cost < 0 THEN
        RAISE EXCEPTION 'p_actual_cost must be a finite number >= 0, got %', p_actual_cost
              USING ERRCODE = '22023', COLUMN = 'actual_cost';
    ELSIF p_actual_cost >= 1e12 THEN
        RAISE EXCEPTION 'p_actual_cost must be below 1e12, got %', p_actual_cost
              USING ERRCODE = '22003', COLUMN = 'actual_cost';
    ELSIF round(p_actual_cost, 6) <> p_actual_cost THEN
        RAISE EXCEPTION 'p_actual_cost has more than 6 decimal places (micro-dollars), got %',
                        left(p_actual_cost::text, 40)
              USING ERRCODE = '22023', COLUMN = 'actual_cost',
                    HINT = 'round the cost to 6 decimal places';
    END IF;

    SELECT c.workspace_id INTO v_workspace_id FROM campaigndb.campaigns AS c
     WHERE c.id = p_campaign_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'campaign % not found', p_campaign_id
              USING ERRCODE = 'P0002', TABLE = 'campaigns';
    END IF;
    PERFORM campaigndb.assert_workspace_access(v_workspace_id, 'campaign ' || p_campaign_id);

    UPDATE campaigndb.gmaps_campaign_coverage AS g
       SET status = COALESCE(p_status, 'completed'),
           businesses_found = p_businesses_found,
           emails_found = p_emails_found,
           actual_cost = p_actual_cost,
           scraped_at = now()
     WHERE g.campaign_id = p_campaign_id AND g.zip_code = btrim(p_zip_code)
    RETURNING g.status INTO v_status;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'ZIP code % is not in the coverage of campaign %',
                        quote_literal(p_zip_code), p_campaign_id
              USING ERRCODE = 'P0002', TABLE = 'gmaps_campaign_coverage',
                    HINT = 'create_campaign_with_coverage lists the ZIP codes of a campaign';
    END IF;

    RETURN campaigndb.envelope_ok(jsonb_build_object(
        'zip_code', btrim(p_zip_code), 'status', v_status));
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

REVOKE ALL ON FUNCTION public.update_coverage_status(uuid, varchar, integer, integer, numeric, text)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.update_coverage_status(uuid, varchar, integer, integer, numeric, text)
    TO campaigndb_app;

-- source: sql/functions/update_enrichment_batch.sql
-- update_enrichment_batch: store what the Facebook or LinkedIn enricher found for a batch of
-- businesses.
--
-- p_enrichment_type: 'facebook' or 'linkedin' (anything else: 22023, nothing written).
-- p_enrichments:     a JSON array (else 22023) of {business_id (required), url (the page or
--                    profile; null = searched, nothing found), data (object, optional)}; at
--                    most 10,000 elements (54000).  The table's own names for the type,
--                    <type>_url and <type>_data (facebook_url, linkedin_data, ...), are
--                    accepted in place of url and data (one of the two names per field).
--                    The array's length is read before any element is expanded.
-- Elements are independent: one that is malformed, names an unknown business (P0002), one
-- of another workspace than the bound one (42501) or repeats an earlier business_id (23505)
-- is counted in `failed` and listed in `failures` (index, business_id, error_code, error);
-- the others are applied.  The call fails whole only when it is malformed itself.
-- Applied: <type>_url (kept when url is null), <type>_data, <type>_enriched_at = now().
-- Isolation: READ COMMITTED.  Rows are locked in business_id order before the one UPDATE,
-- so concurrent enrichers cannot deadlock on each other.
-- SECURITY DEFINER: callers hold EXECUTE only, no table privileges.
CREATE OR REPLACE FUNCTION public.update_enrichment_batch(
    p_enrichment_type  varchar,
    p_enrichments      jsonb)
RETURNS jsonb
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    c_max_rows  constant integer := 10000;
    v_scope     uuid[];
    v_good      jsonb;
    v_failures  jsonb;
    v_updated   integer;
    v_url_key   text;
    v_data_key  text;
    v_state text; v_msg text; v_detail text; v_hint text;
    v_constraint text; v_column text; v_table text;
BEGIN
    IF p_enrichment_type IS NULL THEN
        RAISE EXCEPTION 'p_enrichment_type is required' USING ERRCODE = '23502';
    ELSIF p_enrichment_type NOT IN ('facebook', 'linkedin') THEN
        RAISE EXCEPTION 'unknown p_enrichment_type %; expected facebook or linkedin',
                        quote_literal(left(p_enrichment_type, 40)) USING ERRCODE = '22023';
    ELSIF p_enrichments IS NULL THEN
        RAISE EXCEPTION 'p_enrichments is required' USING ERRCODE = '23502';
    ELSIF jsonb_typeof(p_enrichments) <> 'array' THEN
        RAISE EXCEPTION 'p_enrichments must be a JSON array, got %', jsonb_typeof(p_enrichments)
              USING ERRCODE = '22023';
    ELSIF jsonb_array_length(p_enrichments) > c_max_rows THEN
        RAISE EXCEPTION 'p_enrichments holds % elements; the limit is % per call',
                        jsonb_array_length(p_enrichments), c_max_rows
              USING ERRCODE = '54000', HINT = 'send the enrichments in several batches';
    END IF;
    -- read here, not in DECLARE: a bad binding must answer through the handler below (22023)
    v_scope := campaigndb.caller_workspaces(true);
    v_url_key := p_enrichment_type || '_url';
    v_data_key := p_enrichment_type || '_data';

    -- Classify every element: the first problem it has, or none.
    -- (<type>_url / <type>_data are renamed to url / data first; `twice` marks an element
    -- that names a field both ways)
    WITH n AS (
        SELECT a.ord, jsonb_typeof(a.v) AS kind,
               CASE WHEN jsonb_typeof(a.v) = 'object'
                    THEN (a.v ? 'url' AND a.v ? v_url_key) OR (a.v ? 'data' AND a.v ? v_data_key)
                    ELSE false END AS twice,
               CASE WHEN jsonb_typeof(a.v) = 'object'
                    THEN a.v - v_url_key - v_data_key
                         || CASE WHEN a.v ? v_url_key
                                 THEN jsonb_build_object('url', a.v -> v_url_key)
                                 ELSE '{}' END
                         || CASE WHEN a.v ? v_data_key
                                 THEN jsonb_build_object('data', a.v -> v_data_key)
                                 ELSE '{}' END
                    ELSE a.v END AS v
          FROM jsonb_array_elements(p_enrichments) WITH ORDINALITY AS a(v, ord)
    ), e AS (
        SELECT n.ord - 1 AS idx, n.v, n.kind, n.twice,
               CASE WHEN jsonb_typeof(n.v -> 'business_id') = 'string'
                         AND (n.v ->> 'business_id')
                             ~ '^[0-9A-Fa-f]{8}-?([0-9A-Fa-f]{4}-?){3}[0-9A-Fa-f]{12}$'
                    THEN (n.v ->> 'business_id')::uuid END AS business_id
          FROM n
    ), checked AS (
        SELECT e.idx, e.v, e.business_id,
               CASE
                 WHEN e.kind <> 'object' THEN '22023'
                 WHEN e.twice THEN '22023'
                 WHEN (e.v - 'business_id' - 'url' - 'data') <> '{}' THEN '22023'
                 WHEN COALESCE(jsonb_typeof(e.v -> 'business_id'), 'null') = 'null' THEN '23502'
                 WHEN e.business_id IS NULL THEN '22P02'
                 WHEN COALESCE(jsonb_typeof(e.v -> 'url'), 'null') NOT IN ('string', 'null') THEN '22023'
                 WHEN COALESCE(jsonb_typeof(e.v -> 'data'), 'null') NOT IN ('object', 'null') THEN '22023'
                 WHEN b.id IS NULL THEN 'P0002'
                 WHEN v_scope IS NOT NULL AND c.workspace_id <> ALL (v_scope) THEN '42501'
                 WHEN row_number() OVER (PARTITION BY e.business_id ORDER BY e.idx) > 1 THEN '23505'
               END AS code,
               CASE
                 WHEN e.kind <> 'object' THEN format('element must be an object, got %s', e.kind)
                 WHEN e.twice THEN
                   format('give url or %s, data or %s, not both', v_url_key, v_data_key)
                 WHEN (e.v - 'business_id' - 'url' - 'data') <> '{}' THEN
                   format('unknown field(s); allowed: business_id, url or %s, data or %s',
                          v_url_key, v_data_key)
                 WHEN COALESCE(jsonb_typeof(e.v -> 'business_id'), 'null') = 'null' THEN
                   'business_id is required'
                 WHEN e.business_id IS NULL THEN 'business_id is not a uuid'
                 WHEN COALESCE(jsonb_typeof(e.v -> 'url'), 'null') NOT IN ('string', 'null') THEN
                   'url must be a string or null'
                 WHEN COALESCE(jsonb_typeof(e.v -> 'data'), 'null') NOT IN ('object', 'null') THEN
                   'data must be an object or null'
                 WHEN b.id IS NULL THEN format('business %s not found', e.business_id)
                 WHEN v_scope IS NOT NULL AND c.workspace_id <> ALL (v_scope) THEN
                   format('business %s belongs to another workspace than the one this session '
                          'is bound to', e.business_id)
                 WHEN row_number() OVER (PARTITION BY e.business_id ORDER BY e.idx) > 1 THEN
                   format('business %s is repeated in this batch', e.business_id)
               END AS error
          FROM e
          LEFT JOIN campaigndb.gmaps_businesses AS b ON b.id = e.business_id
          LEFT JOIN campaigndb.campaigns AS c ON c.id = b.campaign_id
    )
    SELECT COALESCE(jsonb_agg(jsonb_build_object(
                        'business_id', k.business_id,
                        'url', k.v -> 'url', 'data', k.v -> 'data'))
                    FILTER (WHERE k.code IS NULL), '[]'),
           COALESCE(jsonb_agg(jsonb_build_object(
                        'index', k.idx,
                        'business_id', CASE WHEN k.kind_ok THEN k.v -> 'business_id' END,
                        'error_code', k.code, 'error', k.error) ORDER BY k.idx)
                    FILTER (WHERE k.code IS NOT NULL), '[]')
      INTO v_good, v_failures
      FROM (SELECT checked.*, jsonb_typeof(checked.v) = 'object' AS kind_ok FROM checked) AS k;

    -- Lock the rows in id order, then apply every good element in one statement.
    PERFORM 1 FROM campaigndb.gmaps_businesses AS b
     WHERE b.id IN (SELECT (g ->> 'business_id')::uuid FROM jsonb_array_elements(v_good) AS g)
     ORDER BY b.id
       FOR NO KEY UPDATE;

    UPDATE campaigndb.gmaps_businesses AS b
       SET facebook_url = CASE WHEN p_enrichment_type = 'facebook'
                               THEN COALESCE(g.url, b.facebook_url) ELSE b.facebook_url END,
           facebook_data = CASE WHEN p_enrichment_type = 'facebook'
                                THEN g.data ELSE b.facebook_data END,
           facebook_enriched_at = CASE WHEN p_enrichment_type = 'facebook'
                                       THEN now() ELSE b.facebook_enriched_at END,
           linkedin_url = CASE WHEN p_enrichment_type = 'linkedin'
                               THEN COALESCE(g.url, b.linkedin_url) ELSE b.linkedin_url END,
           linkedin_data = CASE WHEN p_enrichment_type = 'linkedin'
                                THEN g.data ELSE b.linkedin_data END,
           linkedin_enriched_at = CASE WHEN p_enrichment_type = 'linkedin'
                                       THEN now() ELSE b.linkedin_enriched_at END,
           updated_at = now()
      FROM jsonb_to_recordset(v_good) AS g(business_id uuid, url text, data jsonb)
     WHERE b.id = g.business_id;
    GET DIAGNOSTICS v_updated = ROW_COUNT;

    RETURN campaigndb.envelope_ok(jsonb_build_object(
        'updated', v_updated, 'failed', jsonb_array_length(v_failures), 'failures', v_failures));
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

REVOKE ALL ON FUNCTION public.update_enrichment_batch(varchar, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.update_enrichment_batch(varchar, jsonb) TO campaigndb_app;

-- source: sql/functions/get_campaign_execution_metrics.sql
-- get_campaign_execution_metrics: a workspace's executions created since p_since: counts by
-- status, success_rate (completed / finished, null when none finished), avg and p95
-- duration of finished ones, and peak_concurrent: the most executions running at once
-- (an unfinished execution counts as running until now).
-- Served by n8n_campaign_executions_workspace_created_idx (workspace_id, created_at).
-- Isolation: READ COMMITTED, read only.
-- p_since in the future is an empty window: zeros and nulls, success (not an error).
-- SQLSTATEs in the envelope: 23502, 42501.
-- SECURITY DEFINER: callers hold EXECUTE only, no table privileges.
CREATE OR REPLACE FUNCTION public.get_campaign_execution_metrics(
    p_workspace_id  uuid,
    p_since         timestamptz DEFAULT now() - interval '24 hours')
RETURNS jsonb
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_metrics  jsonb;
    v_peak     bigint;
    v_since    timestamptz := COALESCE(p_since, now() - interval '24 hours');
    v_state text; v_msg text; v_detail text; v_hint text;
    v_constraint text; v_column text; v_table text;
BEGIN
    IF p_workspace_id IS NULL THEN
        RAISE EXCEPTION 'p_workspace_id is required' USING ERRCODE = '23502', COLUMN = 'workspace_id';
    END IF;
    PERFORM campaigndb.assert_workspace_access(p_workspace_id, 'workspace ' || p_workspace_id);

    SELECT jsonb_build_object(
               'total', count(*),
               'pending', count(*) FILTER (WHERE e.execution_status = 'pending'),
               'running', count(*) FILTER (WHERE e.execution_status = 'running'),
               'completed', count(*) FILTER (WHERE e.execution_status = 'completed'),
               'failed', count(*) FILTER (WHERE e.execution_status = 'failed'),
               'success_rate', round(count(*) FILTER (WHERE e.execution_status = 'completed')::numeric
                                     / NULLIF(count(*) FILTER (WHERE e.execution_status
                                                               IN ('completed', 'failed')), 0), 4),
               'avg_duration_ms', round(avg(e.duration_ms), 1),
               'p95_duration_ms', percentile_cont(0.95) WITHIN GROUP (ORDER BY e.duration_ms)
                                  FILTER (WHERE e.duration_ms IS NOT NULL))
      INTO v_metrics
      FROM campaigndb.n8n_campaign_executions AS e
     WHERE e.workspace_id = p_workspace_id AND e.created_at >= v_since;

    -- sweep line: +1 at each start, -1 at each end; the running sum's maximum
    SELECT COALESCE(max(running), 0) INTO v_peak
      FROM (SELECT sum(delta) OVER (ORDER BY at, delta) AS running
              FROM (SELECT e.started_at AS at, 1 AS delta
                      FROM campaigndb.n8n_campaign_executions AS e
                     WHERE e.workspace_id = p_workspace_id AND e.created_at >= v_since
                    UNION ALL
                    SELECT COALESCE(e.completed_at, now()), -1
                      FROM campaigndb.n8n_campaign_executions AS e
                     WHERE e.workspace_id = p_workspace_id AND e.created_at >= v_since) AS events
           ) AS sweep;

    RETURN campaigndb.envelope_ok(v_metrics || jsonb_build_object(
        'peak_concurrent', v_peak, 'since', v_since));
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

REVOKE ALL ON FUNCTION public.get_campaign_execution_metrics(uuid, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.get_campaign_execution_metrics(uuid, timestamptz)
    TO campaigndb_app, campaigndb_readonly;
