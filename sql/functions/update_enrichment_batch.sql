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
