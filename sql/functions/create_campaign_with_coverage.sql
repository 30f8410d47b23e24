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
-- unless another workspace holds it (then a new one; nothing about it is revealed; on a
-- Citus cluster, where no key keeps such repeats exact, 23505 instead: docs/scale-out.md).
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
        -- Another workspace holds the id.  A new id keeps repeats exact only while
        -- (workspace_id, request_id) is unique; the Citus layout cannot keep that key
        -- (docs/scale-out.md), so there the call is refused instead.
        IF v_request_id IS NOT NULL AND NOT EXISTS (
               SELECT 1 FROM pg_catalog.pg_constraint AS k
                WHERE k.conrelid = 'campaigndb.campaigns'::regclass
                  AND k.conname = 'campaigns_workspace_request_id_key') THEN
            RAISE EXCEPTION 'campaign id % is taken', v_request_id
                  USING ERRCODE = '23505', CONSTRAINT = 'campaigns_pkey',
                        HINT = 'on a Citus cluster a campaign id must be unique across '
                               'workspaces; use a new id';
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
