-- get_businesses_for_enrichment: the businesses of a campaign that still need an enrichment,
-- a page at a time, in business id order.
--
-- p_enrichment_type: 'facebook' or 'linkedin' (not enriched yet), 'email' (not verified yet).
-- p_limit 1..1000; p_offset >= 0; p_after_id (keyset): only ids after it.  Keyset pages never
-- overlap or skip while others enrich; offset pages cost more with depth (docs/functions.md).
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
