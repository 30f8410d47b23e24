-- rotate_token_secret: store a new HS256 secret for workspace tokens (at least 32 bytes of
-- UTF-8).  p_keep_previous keeps the secrets stored so far valid (rotation: tokens already
-- minted keep working until they expire; call again with false to retire them).
-- Only campaigndb_admin (and superusers) may execute it; nobody can read a secret back.
-- SQLSTATEs in the envelope: 23502, 22023 (shorter than 32 bytes).
-- Isolation: READ COMMITTED; a DELETE (without p_keep_previous) and an INSERT.
-- SECURITY DEFINER: campaigndb_admin holds EXECUTE only, no privilege on token_secrets.
CREATE OR REPLACE FUNCTION public.rotate_token_secret(p_secret text,
                                                      p_keep_previous boolean DEFAULT false)
RETURNS jsonb
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_key     bytea;
    v_inner   bytea;
    v_outer   bytea;
    v_id      integer;
    v_kept    integer;
BEGIN
    IF p_secret IS NULL THEN
        RETURN campaigndb.envelope_error('23502', 'p_secret is required');
    END IF;
    v_key := convert_to(p_secret, 'UTF8');
    IF length(v_key) < 32 THEN
        RETURN campaigndb.envelope_error('22023', 'p_secret must be at least 32 bytes',
                                         p_hint => 'use 32 random bytes or more, e.g. '
                                                   'python -c "import secrets; print(secrets.token_urlsafe(48))"');
    END IF;
    IF length(v_key) > 64 THEN
        v_key := sha256(v_key);  -- HMAC: a key longer than the block is hashed first
    END IF;
    v_key := v_key || decode(repeat('00', 64 - length(v_key)), 'hex');
    v_inner := v_key;
    v_outer := v_key;
    FOR i IN 0..63 LOOP
        v_inner := set_byte(v_inner, i, get_byte(v_key, i) # 54);   -- 0x36
        v_outer := set_byte(v_outer, i, get_byte(v_key, i) # 92);   -- 0x5c
    END LOOP;
    IF NOT COALESCE(p_keep_previous, false) THEN
        DELETE FROM campaigndb.token_secrets;
    END IF;
    INSERT INTO campaigndb.token_secrets (inner_pad, outer_pad)
    VALUES (v_inner, v_outer) RETURNING id INTO v_id;
    SELECT count(*) INTO v_kept FROM campaigndb.token_secrets;
    RETURN campaigndb.envelope_ok(jsonb_build_object('secret_id', v_id, 'secrets_valid', v_kept));
END
$function$;

REVOKE ALL ON FUNCTION public.rotate_token_secret(text, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.rotate_token_secret(text, boolean) TO campaigndb_admin;
