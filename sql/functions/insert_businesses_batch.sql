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
