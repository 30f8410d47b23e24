-- campaigndb.json_uuid: read p_doc->p_key as a uuid: 23502 when required and missing,
-- 22023 when not a string, 22P02 when the string is not a uuid.
CREATE OR REPLACE FUNCTION campaigndb.json_uuid(
    p_doc       jsonb,
    p_key       text,
    p_label     text,
    p_required  boolean DEFAULT false)
RETURNS uuid
LANGUAGE plpgsql
IMMUTABLE
AS $function$
DECLARE
    v_text text := campaigndb.json_text(p_doc, p_key, p_label, p_required, 64);
BEGIN
    IF v_text IS NULL THEN
        RETURN NULL;
    END IF;
    IF v_text OPERATOR(pg_catalog.!~)
       '^[0-9A-Fa-f]{8}-?([0-9A-Fa-f]{4}-?){3}[0-9A-Fa-f]{12}$' THEN
        RAISE EXCEPTION '% is not a uuid: %', p_label, pg_catalog.quote_literal(v_text)
              USING ERRCODE = '22P02', COLUMN = p_key;
    END IF;
    RETURN v_text::uuid;
END
$function$;

REVOKE ALL ON FUNCTION campaigndb.json_uuid(jsonb, text, text, boolean) FROM PUBLIC;
