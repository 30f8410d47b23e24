-- source: sql/schema/40_enrichment_indexes.sql
-- Partial indexes behind get_businesses_for_enrichment: the businesses of a campaign that
-- still need one kind of enrichment, in id order (keyset paging on id).
CREATE INDEX gmaps_businesses_facebook_todo_idx
    ON campaigndb.gmaps_businesses (campaign_id, id) WHERE facebook_enriched_at IS NULL;
CREATE INDEX gmaps_businesses_linkedin_todo_idx
    ON campaigndb.gmaps_businesses (campaign_id, id) WHERE linkedin_enriched_at IS NULL;
CREATE INDEX gmaps_businesses_email_todo_idx
    ON campaigndb.gmaps_businesses (campaign_id, id)
    WHERE email IS NOT NULL AND email_verification_status = 'unverified';

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
               updated_at    = now()
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

-- source: sql/functions/update_campaign_statistics.sql
-- update_campaign_statistics: recompute a campaign's totals from its rows (never increments).
-- Isolation: READ COMMITTED.  The campaign row is locked FOR NO KEY UPDATE first, so
-- concurrent recomputations queue instead of interleaving; each counts in a statement that
-- starts after it holds the lock, so it sees every batch committed before it.  (Business
-- inserts take only KEY SHARE on the campaign: they are never blocked by this lock.)
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
     WHERE c.id = p_campaign_id
       FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'campaign % not found', p_campaign_id
              USING ERRCODE = 'P0002', TABLE = 'campaigns';
    END IF;
    PERFORM campaigndb.assert_workspace_access(v_workspace_id, 'campaign ' || p_campaign_id);

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
     WHERE c.id = p_campaign_id;

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
-- SQLSTATEs in the envelope: 23502, 22023 (negative counts or cost, NaN), 23514 (unknown
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

-- source: sql/functions/update_email_verification.sql
-- update_email_verification: store an e-mail verifier's verdict (e.g. Bouncer) on a business.
-- p_verification_data: {status (required: valid, invalid, risky, unknown, catch_all,
-- disposable), ...anything else the verifier returned, stored as is}.  p_email, when given,
-- becomes the business's e-mail (the verdict is about that address).
-- Isolation: READ COMMITTED; one single-row UPDATE.
-- SQLSTATEs in the envelope: 23502, 22023 (not an object, e-mail without '@'), 23514 (unknown
-- status), P0002 (business not found), 42501.
-- SECURITY DEFINER: callers hold EXECUTE only, no table privileges.
CREATE OR REPLACE FUNCTION public.update_email_verification(
    p_business_id        uuid,
    p_email              varchar,
    p_verification_data  jsonb)
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
    IF p_business_id IS NULL THEN
        RAISE EXCEPTION 'p_business_id is required' USING ERRCODE = '23502', COLUMN = 'business_id';
    ELSIF p_email IS NOT NULL AND (p_email !~ '^[^@\s]+@[^@\s]+$' OR length(p_email) > 320) THEN
        RAISE EXCEPTION 'p_email is not an e-mail address: %', quote_literal(left(p_email, 80))
              USING ERRCODE = '22023', COLUMN = 'email';
    ELSIF p_verification_data IS NULL THEN
        RAISE EXCEPTION 'p_verification_data is required' USING ERRCODE = '23502';
    ELSIF jsonb_typeof(p_verification_data) <> 'object' THEN
        RAISE EXCEPTION 'p_verification_data must be a JSON object, got %',
                        jsonb_typeof(p_verification_data) USING ERRCODE = '22023';
    END IF;
    v_status := campaigndb.json_text(p_verification_data, 'status',
                                     'p_verification_data.status', true, 32);
    IF v_status NOT IN ('valid', 'invalid', 'risky', 'unknown', 'catch_all', 'disposable') THEN
        RAISE EXCEPTION 'p_verification_data.status % is not a verdict; expected valid, '
                        'invalid, risky, unknown, catch_all or disposable',
                        quote_literal(v_status)
              USING ERRCODE = '23514',
                    CONSTRAINT = 'gmaps_businesses_email_verification_status_check';
    END IF;

    SELECT c.workspace_id INTO v_workspace_id
      FROM campaigndb.gmaps_businesses AS b
      JOIN campaigndb.campaigns AS c ON c.id = b.campaign_id
     WHERE b.id = p_business_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'business % not found', p_business_id
              USING ERRCODE = 'P0002', TABLE = 'gmaps_businesses';
    END IF;
    PERFORM campaigndb.assert_workspace_access(v_workspace_id, 'business ' || p_business_id);

    UPDATE campaigndb.gmaps_businesses AS b
       SET email = COALESCE(p_email, b.email),
           email_verification_status = v_status,
           email_verification_data = p_verification_data,
           email_verified_at = now(),
           updated_at = now()
     WHERE b.id = p_business_id;

    RETURN campaigndb.envelope_ok(jsonb_build_object(
        'business_id', p_business_id, 'verification_status', v_status));
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

REVOKE ALL ON FUNCTION public.update_email_verification(uuid, varchar, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.update_email_verification(uuid, varchar, jsonb) TO campaigndb_app;

-- source: sql/functions/update_enrichment_batch.sql
-- update_enrichment_batch: store what the Facebook or LinkedIn enricher found for a batch of
-- businesses.
--
-- p_enrichment_type: 'facebook' or 'linkedin' (anything else: 22023, nothing written).
-- p_enrichments:     a JSON array (else 22023) of {business_id (required), url (the page or
--                    profile; null = searched, nothing found), data (object, optional)}; at
--                    most 10,000 elements (54000).
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
    v_bound     uuid;
    v_good      jsonb;
    v_failures  jsonb;
    v_updated   integer;
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
    v_bound := campaigndb.bound_workspace_id();

    -- Classify every element: the first problem it has, or none.
    WITH e AS (
        SELECT a.ord - 1 AS idx, a.v, jsonb_typeof(a.v) AS kind,
               CASE WHEN jsonb_typeof(a.v -> 'business_id') = 'string'
                         AND (a.v ->> 'business_id')
                             ~ '^[0-9A-Fa-f]{8}-?([0-9A-Fa-f]{4}-?){3}[0-9A-Fa-f]{12}$'
                    THEN (a.v ->> 'business_id')::uuid END AS business_id
          FROM jsonb_array_elements(p_enrichments) WITH ORDINALITY AS a(v, ord)
    ), checked AS (
        SELECT e.idx, e.v, e.business_id,
               CASE
                 WHEN e.kind <> 'object' THEN '22023'
                 WHEN (e.v - 'business_id' - 'url' - 'data') <> '{}' THEN '22023'
                 WHEN COALESCE(jsonb_typeof(e.v -> 'business_id'), 'null') = 'null' THEN '23502'
                 WHEN e.business_id IS NULL THEN '22P02'
                 WHEN COALESCE(jsonb_typeof(e.v -> 'url'), 'null') NOT IN ('string', 'null') THEN '22023'
                 WHEN COALESCE(jsonb_typeof(e.v -> 'data'), 'null') NOT IN ('object', 'null') THEN '22023'
                 WHEN b.id IS NULL THEN 'P0002'
                 WHEN v_bound IS NOT NULL AND c.workspace_id <> v_bound THEN '42501'
                 WHEN row_number() OVER (PARTITION BY e.business_id ORDER BY e.idx) > 1 THEN '23505'
               END AS code,
               CASE
                 WHEN e.kind <> 'object' THEN format('element must be an object, got %s', e.kind)
                 WHEN (e.v - 'business_id' - 'url' - 'data') <> '{}' THEN
                   'unknown field(s); allowed: business_id, url, data'
                 WHEN COALESCE(jsonb_typeof(e.v -> 'business_id'), 'null') = 'null' THEN
                   'business_id is required'
                 WHEN e.business_id IS NULL THEN 'business_id is not a uuid'
                 WHEN COALESCE(jsonb_typeof(e.v -> 'url'), 'null') NOT IN ('string', 'null') THEN
                   'url must be a string or null'
                 WHEN COALESCE(jsonb_typeof(e.v -> 'data'), 'null') NOT IN ('object', 'null') THEN
                   'data must be an object or null'
                 WHEN b.id IS NULL THEN format('business %s not found', e.business_id)
                 WHEN v_bound IS NOT NULL AND c.workspace_id <> v_bound THEN
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

-- source: sql/functions/get_businesses_for_enrichment.sql
-- get_businesses_for_enrichment: the businesses of a campaign that still need an enrichment,
-- a page at a time, in business id order.
--
-- p_enrichment_type: 'facebook' (facebook_enriched_at is null), 'linkedin'
--   (linkedin_enriched_at is null) or 'email' (an e-mail not verified yet).
-- p_limit 1..1000; p_offset >= 0; p_after_id (keyset): only ids after it.
-- Paging: with p_after_id = the last id of the previous page, pages never overlap or skip,
-- even while other processes enrich (and so remove) rows; this is the way to page through
-- a campaign that is being enriched, and it stays fast at any depth.  p_offset pages are
-- stable only while the set does not change, and cost grows with the offset (each skipped
-- row is read): fine to about 10,000.
-- Served by the partial indexes gmaps_businesses_<type>_todo_idx on (campaign_id, id).
-- Isolation: READ COMMITTED, read only.
-- Raises (a set-returning function has no envelope): 23502, 22023, P0002, 42501.
-- SECURITY DEFINER: callers hold EXECUTE only, no table privileges.
CREATE OR REPLACE FUNCTION public.get_businesses_for_enrichment(
    p_campaign_id      uuid,
    p_enrichment_type  varchar,
    p_limit            integer,
    p_offset           integer,
    p_after_id         uuid DEFAULT NULL)
RETURNS TABLE (
    id                         uuid,
    campaign_id                uuid,
    zip_code                   varchar,
    place_id                   text,
    name                       text,
    address                    text,
    city                       text,
    state                      text,
    phone                      text,
    website                    text,
    category                   text,
    email                      text,
    facebook_url               text,
    linkedin_url               text,
    email_verification_status  text)
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $function$
#variable_conflict use_column
DECLARE
    v_workspace_id  uuid;
    v_after         uuid := COALESCE(p_after_id, '00000000-0000-0000-0000-000000000000');
BEGIN
    IF p_campaign_id IS NULL THEN
        RAISE EXCEPTION 'p_campaign_id is required' USING ERRCODE = '23502';
    ELSIF p_enrichment_type IS NULL OR p_enrichment_type NOT IN ('facebook', 'linkedin', 'email') THEN
        RAISE EXCEPTION 'unknown p_enrichment_type %; expected facebook, linkedin or email',
                        quote_literal(left(p_enrichment_type, 40)) USING ERRCODE = '22023';
    ELSIF p_limit IS NULL OR p_limit NOT BETWEEN 1 AND 1000 THEN
        RAISE EXCEPTION 'p_limit must be between 1 and 1000, got %', p_limit USING ERRCODE = '22023';
    ELSIF p_offset IS NULL OR p_offset < 0 THEN
        RAISE EXCEPTION 'p_offset must be >= 0, got %', p_offset USING ERRCODE = '22023';
    END IF;
    SELECT c.workspace_id INTO v_workspace_id FROM campaigndb.campaigns AS c
     WHERE c.id = p_campaign_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'campaign % not found', p_campaign_id USING ERRCODE = 'P0002';
    END IF;
    PERFORM campaigndb.assert_workspace_access(v_workspace_id, 'campaign ' || p_campaign_id);

    -- One static query per type, so that each is planned on its own partial index.
    IF p_enrichment_type = 'facebook' THEN
        RETURN QUERY
        SELECT b.id, b.campaign_id, b.zip_code, b.place_id, b.name, b.address, b.city, b.state,
               b.phone, b.website, b.category, b.email, b.facebook_url, b.linkedin_url,
               b.email_verification_status
          FROM campaigndb.gmaps_businesses AS b
         WHERE b.campaign_id = p_campaign_id AND b.id > v_after
           AND b.facebook_enriched_at IS NULL
         ORDER BY b.id
         LIMIT p_limit OFFSET p_offset;
    ELSIF p_enrichment_type = 'linkedin' THEN
        RETURN QUERY
        SELECT b.id, b.campaign_id, b.zip_code, b.place_id, b.name, b.address, b.city, b.state,
               b.phone, b.website, b.category, b.email, b.facebook_url, b.linkedin_url,
               b.email_verification_status
          FROM campaigndb.gmaps_businesses AS b
         WHERE b.campaign_id = p_campaign_id AND b.id > v_after
           AND b.linkedin_enriched_at IS NULL
         ORDER BY b.id
         LIMIT p_limit OFFSET p_offset;
    ELSE
        RETURN QUERY
        SELECT b.id, b.campaign_id, b.zip_code, b.place_id, b.name, b.address, b.city, b.state,
               b.phone, b.website, b.category, b.email, b.facebook_url, b.linkedin_url,
               b.email_verification_status
          FROM campaigndb.gmaps_businesses AS b
         WHERE b.campaign_id = p_campaign_id AND b.id > v_after
           AND b.email IS NOT NULL AND b.email_verification_status = 'unverified'
         ORDER BY b.id
         LIMIT p_limit OFFSET p_offset;
    END IF;
END
$function$;

REVOKE ALL ON FUNCTION public.get_businesses_for_enrichment(uuid, varchar, integer, integer, uuid)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.get_businesses_for_enrichment(uuid, varchar, integer, integer, uuid)
    TO campaigndb_app, campaigndb_readonly;
