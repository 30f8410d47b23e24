-- campaigndb.json_text: read p_doc->p_key as text with a clear error when it is the wrong
-- type (22023), missing while required (23502) or longer than p_max_length (22023).
-- p_label names the field in messages, e.g. 'p_campaign_data.name'.
CREATE OR REPLACE FUNCTION campaigndb.json_text(
    p_doc         jsonb,
    p_key         text,
    p_label       text,
    p_required    boolean DEFAULT false,
    p_max_length  integer DEFAULT 10000)
RETURNS text
LANGUAGE plpgsql
IMMUTABLE
AS $function$
DECLARE
    v_value  jsonb := p_doc OPERATOR(pg_catalog.->) p_key;
    v_text   text;
BEGIN
    IF v_value IS NULL OR pg_catalog.jsonb_typeof(v_value) OPERATOR(pg_catalog.=) 'null' THEN
        IF p_required THEN
            RAISE EXCEPTION '% is required', p_label
                  USING ERRCODE = '23502', COLUMN = p_key;
        END IF;
        RETURN NULL;
    END IF;
    IF pg_catalog.jsonb_typeof(v_value) OPERATOR(pg_catalog.<>) 'string' THEN
        RAISE EXCEPTION '% must be a string, got %', p_label, pg_catalog.jsonb_typeof(v_value)
              USING ERRCODE = '22023', COLUMN = p_key;
    END IF;
    v_text := v_value OPERATOR(pg_catalog.#>>) '{}'::text[];
    IF p_required AND v_text OPERATOR(pg_catalog.~) '^\s*$' THEN
        RAISE EXCEPTION '% must not be empty', p_label
              USING ERRCODE = '23502', COLUMN = p_key;
    END IF;
    IF pg_catalog.length(v_text) OPERATOR(pg_catalog.>) p_max_length THEN
        RAISE EXCEPTION '% is longer than % characters', p_label, p_max_length
              USING ERRCODE = '22023', COLUMN = p_key;
    END IF;
    RETURN v_text;
END
$function$;

REVOKE ALL ON FUNCTION campaigndb.json_text(jsonb, text, text, boolean, integer) FROM PUBLIC;
