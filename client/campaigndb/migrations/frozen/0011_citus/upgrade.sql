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

-- source: sql/functions/insert_businesses_batch.sql
-- insert_businesses_batch: upsert a batch of scraped Google-Maps businesses into a campaign.
--
-- One set-based INSERT ... SELECT FROM jsonb_to_recordset ... ON CONFLICT DO UPDATE (no row
-- loop).  Per element: new (campaign_id, place_id) -> inserted; existing with a changed field
-- -> updated (fields absent from the element keep their stored value); unchanged, repeated
-- within the batch (the first occurrence wins) or without place_id -> skipped.  Empty
-- strings are stored as NULL (an empty e-mail is no e-mail to verify).
-- A value of the wrong type anywhere fails the whole batch (nothing written), with the
-- element's index in the message.  At most 25,000 elements (54000); 10,000 is normal use.
-- Isolation: READ COMMITTED.  Rows are upserted in place_id order, so two batches with
-- overlapping place_ids lock them in the same order and cannot deadlock.
-- SQLSTATEs in the envelope: 23502, 22023, 22P02, 22003, 23514, P0002, 42501, 54000.
-- SECURITY DEFINER: callers hold EXECUTE only, no table privileges.
CREATE OR REPLACE FUNCTION public.insert_businesses_batch(
    p_campaign_id  uuid,
    p_zip_code     varchar,
    p_businesses   jsonb)
RETURNS jsonb
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    c_max_rows      constant integer := 25000;
    v_workspace_id  uuid;
    v_problem       text;
    v_problem_code  text;
    v_inserted      integer;
    v_updated       integer;
    -- once, not in the DO UPDATE SET: Citus plans that clause only with immutable functions
    v_now           timestamptz := now();
    v_state text; v_msg text; v_detail text; v_hint text;
    v_constraint text; v_column text; v_table text;
BEGIN
    IF p_campaign_id IS NULL THEN
        RAISE EXCEPTION 'p_campaign_id is required' USING ERRCODE = '23502', COLUMN = 'campaign_id';
    ELSIF p_zip_code IS NOT NULL AND btrim(p_zip_code) !~ '^[A-Za-z0-9][A-Za-z0-9 -]{0,15}$' THEN
        RAISE EXCEPTION 'p_zip_code is not a ZIP code: %', quote_literal(left(p_zip_code, 40))
              USING ERRCODE = '22023', COLUMN = 'zip_code';
    ELSIF p_businesses IS NULL THEN
        RAISE EXCEPTION 'p_businesses is required' USING ERRCODE = '23502';
    ELSIF jsonb_typeof(p_businesses) <> 'array' THEN
        RAISE EXCEPTION 'p_businesses must be a JSON array, got %', jsonb_typeof(p_businesses)
              USING ERRCODE = '22023';
    ELSIF jsonb_array_length(p_businesses) > c_max_rows THEN
        RAISE EXCEPTION 'p_businesses holds % elements; the limit is % per call',
                        jsonb_array_length(p_businesses), c_max_rows
              USING ERRCODE = '54000', HINT = 'send the businesses in several batches';
    END IF;

    SELECT c.workspace_id INTO v_workspace_id FROM campaigndb.campaigns AS c
     WHERE c.id = p_campaign_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'campaign % not found', p_campaign_id
              USING ERRCODE = 'P0002', TABLE = 'campaigns';
    END IF;
    PERFORM campaigndb.assert_workspace_access(v_workspace_id, 'campaign ' || p_campaign_id);

    -- A wrong type anywhere?  One jsonpath pass in C answers for the whole batch; only when
    -- it finds something does the query below look for the first culprit and name it.
    -- (strict mode: arrays are not unwrapped and a missing key is no problem.)
    IF jsonb_path_exists(p_businesses, 'strict $[*] ? (@.type() != "object"
            || (@.place_id.type() != "string" && @.place_id.type() != "null")
            || (@.name.type() != "string" && @.name.type() != "null")
            || (@.address.type() != "string" && @.address.type() != "null")
            || (@.city.type() != "string" && @.city.type() != "null")
            || (@.state.type() != "string" && @.state.type() != "null")
            || (@.phone.type() != "string" && @.phone.type() != "null")
            || (@.website.type() != "string" && @.website.type() != "null")
            || (@.category.type() != "string" && @.category.type() != "null")
            || (@.email.type() != "string" && @.email.type() != "null")
            || (@.facebook_url.type() != "string" && @.facebook_url.type() != "null")
            || (@.linkedin_url.type() != "string" && @.linkedin_url.type() != "null")
            || (@.rating.type() != "number" && @.rating.type() != "null")
            || (@.latitude.type() != "number" && @.latitude.type() != "null")
            || (@.longitude.type() != "number" && @.longitude.type() != "null")
            || (@.reviews_count.type() != "number" && @.reviews_count.type() != "null")
            || (@.reviews_count.type() == "number" && @.reviews_count.floor() != @.reviews_count)
            || (@.raw_data.type() != "object" && @.raw_data.type() != "null"))')
       OR jsonb_path_exists(p_businesses, 'lax $[*] ? (@.place_id.type() == "string"
            && @.place_id != "" && !exists(@.name ? (@.type() == "string"
                                                      && @ like_regex "[^[:space:]]")))')
    THEN
    -- The first element with a value of the wrong type, or a place without a name.
    SELECT p.problem, p.code INTO v_problem, v_problem_code
      FROM (SELECT e.ord,
                   CASE
                     WHEN jsonb_typeof(e.v) <> 'object' THEN
                       format('p_businesses[%s] must be an object, got %s', e.ord - 1,
                              jsonb_typeof(e.v))
                     WHEN bad.key IS NOT NULL THEN
                       format('p_businesses[%s].%s must be %s, got %s', e.ord - 1, bad.key,
                              bad.expected, bad.got)
                     WHEN COALESCE(e.v ->> 'place_id', '') <> ''
                          AND COALESCE(e.v ->> 'name', '') ~ '^\s*$' THEN
                       format('p_businesses[%s].name is required', e.ord - 1)
                   END AS problem,
                   CASE WHEN jsonb_typeof(e.v) = 'object' AND bad.key IS NULL THEN '23502'
                        ELSE '22023' END AS code
              FROM jsonb_array_elements(p_businesses) WITH ORDINALITY AS e(v, ord)
              LEFT JOIN LATERAL (
                    SELECT f.key, s.expected, jsonb_typeof(f.value) AS got
                      FROM jsonb_each(CASE WHEN jsonb_typeof(e.v) = 'object' THEN e.v
                                           ELSE '{}'::jsonb END) AS f
                      JOIN (VALUES ('place_id', 'a string'), ('name', 'a string'),
                                   ('address', 'a string'), ('city', 'a string'),
                                   ('state', 'a string'), ('phone', 'a string'),
                                   ('website', 'a string'), ('category', 'a string'),
                                   ('email', 'a string'), ('facebook_url', 'a string'),
                                   ('linkedin_url', 'a string'), ('rating', 'a number'),
                                   ('reviews_count', 'a whole number'), ('latitude', 'a number'),
                                   ('longitude', 'a number'), ('raw_data', 'an object'))
                           AS s(key, expected) ON s.key = f.key
                     WHERE jsonb_typeof(f.value) <> 'null'
                       AND NOT CASE s.expected
                             WHEN 'a string' THEN jsonb_typeof(f.value) = 'string'
                             WHEN 'a number' THEN jsonb_typeof(f.value) = 'number'
                             WHEN 'an object' THEN jsonb_typeof(f.value) = 'object'
                             ELSE jsonb_typeof(f.value) = 'number'
                                  AND (f.value #>> '{}') ~ '^-?[0-9]{1,9}$'
                           END
                     LIMIT 1) AS bad ON true
           ) AS p
     WHERE p.problem IS NOT NULL
     ORDER BY p.ord
     LIMIT 1;
    IF v_problem IS NOT NULL THEN
        RAISE EXCEPTION '%', v_problem USING ERRCODE = v_problem_code;
    END IF;
    END IF;

    WITH src AS (
        SELECT DISTINCT ON (r.place_id) r.*
          FROM ROWS FROM (jsonb_to_recordset(p_businesses) AS (
                   place_id text, name text, address text, city text, state text,
                   phone text, website text, category text, rating numeric,
                   reviews_count integer, latitude double precision, longitude double precision,
                   email text, facebook_url text, linkedin_url text, raw_data jsonb))
               WITH ORDINALITY AS r(place_id, name, address, city, state, phone, website,
                                    category, rating, reviews_count, latitude, longitude, email,
                                    facebook_url, linkedin_url, raw_data, ord)
         WHERE COALESCE(r.place_id, '') <> ''
         ORDER BY r.place_id, r.ord
    ), upserted AS (
        INSERT INTO campaigndb.gmaps_businesses AS b
               (campaign_id, zip_code, place_id, name, address, city, state, phone, website,
                category, rating, reviews_count, latitude, longitude, email, facebook_url,
                linkedin_url, raw_data)
        SELECT p_campaign_id, btrim(p_zip_code), s.place_id, s.name, NULLIF(s.address, ''),
               NULLIF(s.city, ''), NULLIF(s.state, ''), NULLIF(s.phone, ''),
               NULLIF(s.website, ''), NULLIF(s.category, ''), s.rating, s.reviews_count,
               s.latitude, s.longitude, NULLIF(btrim(s.email), ''), NULLIF(s.facebook_url, ''),
               NULLIF(s.linkedin_url, ''), s.raw_data
          FROM src AS s
         ORDER BY s.place_id
        ON CONFLICT (campaign_id, place_id) DO UPDATE
           SET name          = EXCLUDED.name,
               address       = COALESCE(EXCLUDED.address, b.address),
               city          = COALESCE(EXCLUDED.city, b.city),
               state         = COALESCE(EXCLUDED.state, b.state),
               phone         = COALESCE(EXCLUDED.phone, b.phone),
               website       = COALESCE(EXCLUDED.website, b.website),
               category      = COALESCE(EXCLUDED.category, b.category),
               rating        = COALESCE(EXCLUDED.rating, b.rating),
               reviews_count = COALESCE(EXCLUDED.reviews_count, b.reviews_count),
               latitude      = COALESCE(EXCLUDED.latitude, b.latitude),
               longitude     = COALESCE(EXCLUDED.longitude, b.longitude),
               email         = COALESCE(EXCLUDED.email, b.email),
               facebook_url  = COALESCE(EXCLUDED.facebook_url, b.facebook_url),
               linkedin_url  = COALESCE(EXCLUDED.linkedin_url, b.linkedin_url),
               raw_data      = COALESCE(EXCLUDED.raw_data, b.raw_data),
               updated_at    = v_now
         WHERE (EXCLUDED.name, COALESCE(EXCLUDED.address, b.address),
                COALESCE(EXCLUDED.city, b.city), COALESCE(EXCLUDED.state, b.state),
                COALESCE(EXCLUDED.phone, b.phone), COALESCE(EXCLUDED.website, b.website),
                COALESCE(EXCLUDED.category, b.category), COALESCE(EXCLUDED.rating, b.rating),
                COALESCE(EXCLUDED.reviews_count, b.reviews_count),
                COALESCE(EXCLUDED.latitude, b.latitude), COALESCE(EXCLUDED.longitude, b.longitude),
                COALESCE(EXCLUDED.email, b.email), COALESCE(EXCLUDED.facebook_url, b.facebook_url),
                COALESCE(EXCLUDED.linkedin_url, b.linkedin_url),
                COALESCE(EXCLUDED.raw_data, b.raw_data))
               IS DISTINCT FROM
               (b.name, b.address, b.city, b.state, b.phone, b.website, b.category, b.rating,
                b.reviews_count, b.latitude, b.longitude, b.email, b.facebook_url,
                b.linkedin_url, b.raw_data)
        RETURNING (b.xmax = 0) AS inserted
    )
    SELECT count(*) FILTER (WHERE u.inserted), count(*) FILTER (WHERE NOT u.inserted)
      INTO v_inserted, v_updated
      FROM upserted AS u;

    RETURN campaigndb.envelope_ok(jsonb_build_object(
        'inserted', v_inserted, 'updated', v_updated,
        'skipped', jsonb_array_length(p_businesses) - v_inserted - v_updated));
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

REVOKE ALL ON FUNCTION public.insert_businesses_batch(uuid, varchar, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.insert_businesses_batch(uuid, varchar, jsonb) TO campaigndb_app;

-- source: sql/functions/register_n8n_workflow.sql
-- register_n8n_workflow: register (or update) a workspace's n8n workflow.
-- Keyed by (workspace_id, n8n_workflow_id): registering again with the same values answers
-- the same workflow_id with replayed: true; with other values it updates name, type and
-- status (a redeploy) and answers updated: true.  Each change writes an audit row.
-- Isolation: READ COMMITTED; one INSERT ... ON CONFLICT DO UPDATE.
-- SQLSTATEs in the envelope: 23502, 22023, 23503 (workspace missing), 23514 (unknown
-- campaign type or deployment status), 42501.
-- SECURITY DEFINER: callers hold EXECUTE only, no table privileges.
CREATE OR REPLACE FUNCTION public.register_n8n_workflow(
    p_workspace_id       uuid,
    p_n8n_workflow_id    text,
    p_name               text,
    p_campaign_type      text,
    p_deployment_status  text DEFAULT 'active')
RETURNS jsonb
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_id        uuid;
    v_inserted  boolean;
    v_changed   boolean := true;
    -- once, not in the DO UPDATE SET: Citus plans that clause only with immutable functions
    v_now       timestamptz := now();
    v_state text; v_msg text; v_detail text; v_hint text;
    v_constraint text; v_column text; v_table text;
BEGIN
    IF p_workspace_id IS NULL THEN
        RAISE EXCEPTION 'p_workspace_id is required' USING ERRCODE = '23502', COLUMN = 'workspace_id';
    ELSIF p_n8n_workflow_id IS NULL OR p_n8n_workflow_id ~ '^\s*$' THEN
        RAISE EXCEPTION 'p_n8n_workflow_id is required'
              USING ERRCODE = '23502', COLUMN = 'n8n_workflow_id';
    ELSIF p_name IS NULL OR p_name ~ '^\s*$' THEN
        RAISE EXCEPTION 'p_name is required' USING ERRCODE = '23502', COLUMN = 'name';
    ELSIF p_campaign_type IS NULL THEN
        RAISE EXCEPTION 'p_campaign_type is required' USING ERRCODE = '23502', COLUMN = 'campaign_type';
    ELSIF length(p_n8n_workflow_id) > 200 OR length(p_name) > 200 THEN
        RAISE EXCEPTION 'p_n8n_workflow_id and p_name are limited to 200 characters'
              USING ERRCODE = '22023';
    END IF;
    PERFORM campaigndb.assert_workspace_access(p_workspace_id, 'workspace ' || p_workspace_id);
    IF NOT EXISTS (SELECT 1 FROM campaigndb.workspaces AS w WHERE w.id = p_workspace_id) THEN
        RAISE EXCEPTION 'workspace % does not exist', p_workspace_id
              USING ERRCODE = '23503', CONSTRAINT = 'workspace_n8n_workflows_workspace_id_fkey',
                    TABLE = 'workspace_n8n_workflows', COLUMN = 'workspace_id';
    END IF;

    INSERT INTO campaigndb.workspace_n8n_workflows AS w
           (workspace_id, n8n_workflow_id, name, campaign_type, deployment_status)
    VALUES (p_workspace_id, p_n8n_workflow_id, p_name, p_campaign_type,
            COALESCE(p_deployment_status, 'active'))
    ON CONFLICT (workspace_id, n8n_workflow_id) DO UPDATE
       SET name = EXCLUDED.name,
           campaign_type = EXCLUDED.campaign_type,
           deployment_status = EXCLUDED.deployment_status,
           updated_at = v_now
     WHERE (w.name, w.campaign_type, w.deployment_status)
           IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.campaign_type, EXCLUDED.deployment_status)
    RETURNING w.id, (w.xmax = 0) INTO v_id, v_inserted;

    IF v_id IS NULL THEN  -- registered before with the same values
        v_changed := false;
        SELECT w.id INTO v_id FROM campaigndb.workspace_n8n_workflows AS w
         WHERE w.workspace_id = p_workspace_id AND w.n8n_workflow_id = p_n8n_workflow_id;
    ELSE
        INSERT INTO campaigndb.workflow_deployment_history
               (workspace_id, workflow_id, event_type, details)
        VALUES (p_workspace_id, v_id,
                CASE WHEN v_inserted THEN 'workflow_registered' ELSE 'workflow_updated' END,
                jsonb_build_object('n8n_workflow_id', p_n8n_workflow_id, 'name', p_name,
                                   'campaign_type', p_campaign_type,
                                   'deployment_status', COALESCE(p_deployment_status, 'active')));
    END IF;

    RETURN campaigndb.envelope_ok(jsonb_build_object(
        'workflow_id', v_id, 'replayed', NOT v_changed,
        'updated', v_changed AND NOT COALESCE(v_inserted, false)));
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

REVOKE ALL ON FUNCTION public.register_n8n_workflow(uuid, text, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.register_n8n_workflow(uuid, text, text, text, text)
    TO campaigndb_app;

-- source: sql/functions/complete_campaign_execution.sql
-- complete_campaign_execution: finish an execution: pending or running -> completed or
-- failed, with duration_ms computed from started_at.  A repeat of the same completion (same
-- status, result and error) answers replayed: true; any other transition: 55000.
-- The trigger log_campaign_execution_performance records the execution's performance in
-- transaction_metrics and the audit trail, in the same transaction.
-- Isolation: READ COMMITTED; the execution row is locked FOR UPDATE.
-- SQLSTATEs in the envelope: 23502, 22023 (status not completed/failed, result not an
-- object), P0002 (execution not found), 55000 (already finished otherwise), 42501.
-- SECURITY DEFINER: callers hold EXECUTE only, no table privileges.
CREATE OR REPLACE FUNCTION public.complete_campaign_execution(
    p_execution_id   uuid,
    p_status         text,
    p_result         jsonb DEFAULT NULL,
    p_error_message  text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_execution  campaigndb.n8n_campaign_executions%ROWTYPE;
    v_duration   integer;
    v_state text; v_msg text; v_detail text; v_hint text;
    v_completed  timestamptz;
    v_constraint text; v_column text; v_table text;
BEGIN
    IF p_execution_id IS NULL THEN
        RAISE EXCEPTION 'p_execution_id is required' USING ERRCODE = '23502', COLUMN = 'execution_id';
    ELSIF p_status IS NULL THEN
        RAISE EXCEPTION 'p_status is required' USING ERRCODE = '23502', COLUMN = 'execution_status';
    ELSIF p_status NOT IN ('completed', 'failed') THEN
        RAISE EXCEPTION 'p_status must be completed or failed, got %', quote_literal(left(p_status, 40))
              USING ERRCODE = '22023', COLUMN = 'execution_status';
    ELSIF p_result IS NOT NULL AND jsonb_typeof(p_result) <> 'object' THEN
        RAISE EXCEPTION 'p_result must be a JSON object, got %', jsonb_typeof(p_result)
              USING ERRCODE = '22023', COLUMN = 'result';
    ELSIF length(p_error_message) > 10000 THEN
        RAISE EXCEPTION 'p_error_message is longer than 10000 characters'
              USING ERRCODE = '22023', COLUMN = 'error_message';
    END IF;

    SELECT * INTO v_execution FROM campaigndb.n8n_campaign_executions AS e
     WHERE e.id = p_execution_id
       FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'execution % not found', p_execution_id
              USING ERRCODE = 'P0002', TABLE = 'n8n_campaign_executions';
    END IF;
    PERFORM campaigndb.assert_workspace_access(v_execution.workspace_id,
                                               'execution ' || p_execution_id);

    IF v_execution.execution_status IN ('completed', 'failed') THEN
        IF (v_execution.execution_status, v_execution.result, v_execution.error_message)
           IS NOT DISTINCT FROM (p_status, p_result, p_error_message) THEN
            RETURN campaigndb.envelope_ok(jsonb_build_object(
                'execution_id', p_execution_id, 'execution_status', v_execution.execution_status,
                'duration_ms', v_execution.duration_ms, 'replayed', true));
        END IF;
        RAISE EXCEPTION 'execution % is already %', p_execution_id, v_execution.execution_status
              USING ERRCODE = '55000',
                    HINT = 'only a pending or running execution can be completed';
    END IF;

    -- capped at the integer column's limit (24.8 days): a stale execution can still finish
    -- the clock read once, so that duration and completed_at agree, and outside the UPDATE:
    -- Citus refuses volatile functions in an UPDATE of its tables
    v_completed := clock_timestamp();
    v_duration := LEAST(GREATEST(0, round(extract(epoch FROM v_completed
                                                        - v_execution.started_at) * 1000)),
                        2147483647)::integer;
    UPDATE campaigndb.n8n_campaign_executions AS e
       SET execution_status = p_status,
           result = p_result,
           error_message = p_error_message,
           completed_at = v_completed,
           duration_ms = v_duration
     WHERE e.id = p_execution_id;

    RETURN campaigndb.envelope_ok(jsonb_build_object(
        'execution_id', p_execution_id, 'execution_status', p_status,
        'duration_ms', v_duration, 'replayed', false));
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

REVOKE ALL ON FUNCTION public.complete_campaign_execution(uuid, text, jsonb, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.complete_campaign_execution(uuid, text, jsonb, text)
    TO campaigndb_app;

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

-- source: sql/citus/layout.sql
-- The Citus layout (docs/scale-out.md), applied only when the citus extension exists in this
-- database (a Citus coordinator); on plain PostgreSQL this block changes nothing.
--
-- Reference tables (a copy on every node): workspaces, error_codes, tenant_logins,
--   token_secrets (the workspace binding is checked on the worker that runs a call).
-- Distributed by campaign, one colocation group with campaigns(id): campaigns, coverage,
--   businesses, API costs, daily KPIs, monthly summaries; every unique key includes it.
-- On the coordinator: the workspace-keyed execution tables and collection_log (Citus makes
--   them Citus local tables: their foreign keys reach the reference table workspaces), and
--   transaction_metrics (a plain table).
-- The campaign-keyed API functions are delegated by p_campaign_id to the worker holding the
-- campaign's shard, also inside the caller's transaction (force_delegation).
DO $citus$
DECLARE
    v_campaign_tables constant regclass[] := ARRAY[
        'campaigndb.campaigns', 'campaigndb.gmaps_campaign_coverage',
        'campaigndb.gmaps_businesses', 'campaigndb.gmaps_api_costs',
        'campaigndb.daily_kpi_data', 'campaigndb.campaign_summaries']::regclass[];
    v_fks    jsonb;
    v_fk     jsonb;
    v_table  text;
    v_helper text;
    v_api    text;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'citus') THEN
        RETURN;
    END IF;
    -- The distribution runs inside the revision's transaction: one connection per node.
    SET LOCAL citus.multi_shard_modify_mode = 'sequential';
    -- Callers bind a workspace with SET LOCAL (docs/scale-out.md); Citus forwards SET LOCAL
    -- to the workers a transaction reaches only with this setting.
    EXECUTE pg_catalog.format('ALTER DATABASE %I SET citus.propagate_set_commands = %L',
                              pg_catalog.current_database(), 'local');

    -- A unique key of a distributed table must include its distribution column.
    ALTER TABLE campaigndb.gmaps_businesses
        DROP CONSTRAINT gmaps_businesses_pkey,
        ADD CONSTRAINT gmaps_businesses_pkey PRIMARY KEY (campaign_id, id);
    CREATE INDEX gmaps_businesses_id_idx ON campaigndb.gmaps_businesses (id);
    ALTER TABLE campaigndb.gmaps_api_costs
        DROP CONSTRAINT gmaps_api_costs_pkey,
        ADD CONSTRAINT gmaps_api_costs_pkey PRIMARY KEY (campaign_id, id);
    -- A client's campaign id is unique per workspace on one server (request_id); here only
    -- the id itself is unique, and create_campaign_with_coverage refuses an id that another
    -- workspace holds instead of giving the campaign an id of its own (docs/scale-out.md).
    ALTER TABLE campaigndb.campaigns DROP CONSTRAINT campaigns_workspace_request_id_key;
    CREATE INDEX campaigns_workspace_request_id_idx
        ON campaigndb.campaigns (workspace_id, request_id);

    -- Their foreign keys (to campaigns, and from campaigns to workspaces) are dropped while
    -- the tables are distributed and added again after: otherwise Citus would first turn the
    -- whole foreign key graph into coordinator-local tables.
    SELECT COALESCE(jsonb_agg(jsonb_build_object(
               'tbl', c.conrelid::regclass::text, 'name', c.conname,
               'def', pg_catalog.pg_get_constraintdef(c.oid)) ORDER BY c.conrelid, c.conname),
               '[]')
      INTO v_fks
      FROM pg_catalog.pg_constraint AS c
     WHERE c.contype = 'f' AND c.conrelid = ANY (v_campaign_tables);
    FOR v_fk IN SELECT * FROM jsonb_array_elements(v_fks) LOOP
        EXECUTE pg_catalog.format('ALTER TABLE %s DROP CONSTRAINT %I',
                                  v_fk->>'tbl', v_fk->>'name');
    END LOOP;

    -- Citus refuses subqueries in the policies of its tables.  The workspace-keyed tables
    -- keep the same test, written as function calls (evaluated per row instead of once).
    -- The tables below campaigns cannot check a row's workspace through its campaign: under
    -- a bound workspace their direct reads see no rows at all (stricter, never weaker); the
    -- API functions check the binding themselves (docs/scale-out.md).
    FOREACH v_table IN ARRAY ARRAY['workspaces', 'campaigns', 'workspace_n8n_workflows',
                                   'n8n_campaign_executions', 'workflow_deployment_history',
                                   'collection_log']
    LOOP
        EXECUTE pg_catalog.format('DROP POLICY workspace_isolation ON campaigndb.%I', v_table);
        EXECUTE pg_catalog.format(
            'CREATE POLICY workspace_isolation ON campaigndb.%I USING ('
            'campaigndb.caller_workspaces(false) IS NULL '
            'OR %I = ANY (campaigndb.caller_workspaces(false)))',
            v_table, CASE v_table WHEN 'workspaces' THEN 'id' ELSE 'workspace_id' END);
    END LOOP;
    -- transaction_metrics stays a plain table, but its policy must not name campaigns
    -- either: Citus would send every query of the table to a worker, which lacks it.
    FOREACH v_table IN ARRAY ARRAY['gmaps_campaign_coverage', 'gmaps_businesses',
                                   'gmaps_api_costs', 'daily_kpi_data', 'campaign_summaries',
                                   'transaction_metrics']
    LOOP
        EXECUTE pg_catalog.format('DROP POLICY workspace_isolation ON campaigndb.%I', v_table);
        EXECUTE pg_catalog.format(
            'CREATE POLICY workspace_isolation ON campaigndb.%I USING ('
            'campaigndb.caller_workspaces(false) IS NULL)', v_table);
    END LOOP;

    -- Helpers the policies and the delegated functions call: created on every node.
    FOREACH v_helper IN ARRAY ARRAY[
        'campaigndb.envelope_ok(jsonb)',
        'campaigndb.envelope_error(text,text,text,text,text,text,text)',
        'campaigndb.bound_workspace_id()',
        'campaigndb.session_kind()',
        'campaigndb.token_workspaces(text)',
        'campaigndb.caller_workspaces(boolean)',
        'campaigndb.assert_workspace_access(uuid,text)',
        'campaigndb.json_text(jsonb,text,text,boolean,integer)',
        'campaigndb.json_uuid(jsonb,text,text,boolean)']
    LOOP
        PERFORM pg_catalog.create_distributed_function(v_helper::regprocedure);
    END LOOP;

    PERFORM pg_catalog.create_reference_table(r.t)
       FROM unnest(ARRAY['campaigndb.workspaces', 'campaigndb.error_codes',
                         'campaigndb.tenant_logins', 'campaigndb.token_secrets']) AS r(t);
    PERFORM pg_catalog.create_distributed_table('campaigndb.campaigns', 'id');
    PERFORM pg_catalog.create_distributed_table(d.t, 'campaign_id',
                                                colocate_with => 'campaigndb.campaigns')
       FROM unnest(ARRAY['campaigndb.gmaps_campaign_coverage', 'campaigndb.gmaps_businesses',
                         'campaigndb.gmaps_api_costs', 'campaigndb.daily_kpi_data',
                         'campaigndb.campaign_summaries']) AS d(t);
    FOR v_fk IN SELECT * FROM jsonb_array_elements(v_fks) LOOP
        EXECUTE pg_catalog.format('ALTER TABLE %s ADD CONSTRAINT %I %s',
                                  v_fk->>'tbl', v_fk->>'name', v_fk->>'def');
    END LOOP;

    -- The copies the distribution left in the coordinator's own files (invisible now).
    PERFORM pg_catalog.truncate_local_data_after_distributing_table(d.t)
       FROM unnest(ARRAY['campaigndb.workspaces', 'campaigndb.error_codes',
                         'campaigndb.tenant_logins', 'campaigndb.token_secrets']::regclass[]
                   || v_campaign_tables) AS d(t);

    -- get_businesses_for_enrichment (set-returning, called in FROM) stays on the coordinator:
    -- delegated, it was delegated again on the worker, without end (docs/scale-out.md).
    FOREACH v_api IN ARRAY ARRAY[
        'public.track_campaign_cost(uuid,varchar,integer,numeric,jsonb,text)',
        'public.insert_businesses_batch(uuid,varchar,jsonb)',
        'public.update_campaign_statistics(uuid)',
        'public.update_coverage_status(uuid,varchar,integer,integer,numeric,text)']
    LOOP
        PERFORM pg_catalog.create_distributed_function(v_api::regprocedure, 'p_campaign_id',
                                                       colocate_with => 'campaigndb.campaigns',
                                                       force_delegation => true);
    END LOOP;
END
$citus$;
