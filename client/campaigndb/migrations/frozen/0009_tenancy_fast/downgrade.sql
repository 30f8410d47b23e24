-- Restore what revision 0009_tenancy_fast changed: campaigndb.token_workspaces as revision
-- 0007_tenancy left it (0008_first_contact did not change it).
-- campaigndb.token_workspaces: the workspaces a signed workspace token grants, or 42501.
-- The token is an HS256 JWT (docs/tenancy.md): header {"alg": "HS256"[, "typ": "JWT"]
-- [, "kid"]}, claims workspace_id (uuid) and/or workspace_ids (array of 1..100 uuids),
-- exp (required, epoch seconds), optional nbf, iat, aud ("campaigndb" or an array holding
-- it), role, sub, iss, jti; any other header field or claim is refused.  The signature is
-- checked first, against every stored secret (rotation keeps the previous one), with
-- HMAC-SHA256 built from pg_catalog.sha256 and the stored pads, so no extension is needed
-- and nothing resolves through the caller's search_path.
CREATE OR REPLACE FUNCTION campaigndb.token_workspaces(p_token text)
RETURNS uuid[]
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    c_uuid   constant text := '^[0-9A-Fa-f]{8}-?([0-9A-Fa-f]{4}-?){3}[0-9A-Fa-f]{12}$';
    v_dot1   integer;
    v_dot2   integer;
    v_signed bytea;
    v_sig    bytea;
    v_header jsonb;
    v_claims jsonb;
    v_ids    uuid[];
    v_why    text;
BEGIN
    BEGIN
        IF length(p_token) > 16384
           OR p_token !~ '^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$' THEN
            RAISE EXCEPTION 'not a compact HS256 JWT' USING ERRCODE = 'CD002';
        END IF;
        v_dot1 := strpos(p_token, '.');
        v_dot2 := v_dot1 + strpos(substr(p_token, v_dot1 + 1), '.');
        v_signed := convert_to(left(p_token, v_dot2 - 1), 'UTF8');
        v_sig := decode(translate(substr(p_token, v_dot2 + 1), '-_', '+/') || '=', 'base64');
        -- compare digests of the MACs, so that the comparison's timing reveals nothing
        IF NOT EXISTS (
            SELECT 1 FROM campaigndb.token_secrets AS s
             WHERE sha256(sha256(s.outer_pad || sha256(s.inner_pad || v_signed))) = sha256(v_sig)) THEN
            RAISE EXCEPTION 'bad signature' USING ERRCODE = 'CD002';
        END IF;
        v_header := convert_from(decode(rpad(translate(left(p_token, v_dot1 - 1), '-_', '+/'),
                                             ((v_dot1 - 1 + 3) / 4) * 4, '='), 'base64'),
                                 'UTF8')::jsonb;
        v_claims := convert_from(decode(rpad(translate(substr(p_token, v_dot1 + 1,
                                                              v_dot2 - v_dot1 - 1), '-_', '+/'),
                                             ((v_dot2 - v_dot1 - 1 + 3) / 4) * 4, '='), 'base64'),
                                 'UTF8')::jsonb;
        v_why := CASE
            WHEN jsonb_typeof(v_header) <> 'object' OR jsonb_typeof(v_claims) <> 'object'
                THEN 'header and claims must be JSON objects'
            WHEN v_header ->> 'alg' IS DISTINCT FROM 'HS256' THEN 'alg must be HS256'
            WHEN v_header - 'alg' - 'typ' - 'kid' <> '{}' THEN 'unexpected header field'
            WHEN v_claims - 'workspace_id' - 'workspace_ids' - 'exp' - 'nbf' - 'iat' - 'aud'
                          - 'role' - 'sub' - 'iss' - 'jti' <> '{}' THEN 'unexpected claim'
            WHEN jsonb_typeof(v_claims -> 'exp') IS DISTINCT FROM 'number' THEN 'exp is required'
            WHEN (v_claims ->> 'exp')::numeric <= extract(epoch FROM now()) THEN 'expired'
            WHEN jsonb_typeof(v_claims -> 'nbf') NOT IN ('number')
                 OR (v_claims ->> 'nbf')::numeric > extract(epoch FROM now()) THEN 'not yet valid'
            WHEN jsonb_typeof(v_claims -> 'iat') NOT IN ('number') THEN 'iat must be a number'
            WHEN v_claims ? 'aud' AND NOT (v_claims -> 'aud' = '"campaigndb"'::jsonb
                                           OR v_claims -> 'aud' @> '["campaigndb"]'::jsonb)
                THEN 'aud must be campaigndb'
            WHEN NOT (v_claims ? 'workspace_id' OR v_claims ? 'workspace_ids')
                THEN 'a workspace_id or workspace_ids claim is required'
            WHEN v_claims ? 'workspace_id' AND (jsonb_typeof(v_claims -> 'workspace_id') <> 'string'
                                                OR (v_claims ->> 'workspace_id') !~ c_uuid)
                THEN 'workspace_id must be a uuid'
            WHEN v_claims ? 'workspace_ids' AND (
                     jsonb_typeof(v_claims -> 'workspace_ids') <> 'array'
                     OR jsonb_array_length(v_claims -> 'workspace_ids') NOT BETWEEN 1 AND 100
                     OR EXISTS (SELECT 1 FROM jsonb_array_elements(v_claims -> 'workspace_ids') AS e(v)
                                 WHERE jsonb_typeof(e.v) <> 'string' OR (e.v #>> '{}') !~ c_uuid))
                THEN 'workspace_ids must be an array of 1 to 100 uuids'
        END;
        IF v_why IS NOT NULL THEN
            RAISE EXCEPTION '%', v_why USING ERRCODE = 'CD002';
        END IF;
    EXCEPTION WHEN OTHERS THEN  -- malformed base64, UTF-8, JSON or claim, or a check above
        v_why := CASE WHEN SQLSTATE = 'CD002' THEN SQLERRM ELSE 'malformed token' END;
        RAISE EXCEPTION 'workspace token refused: %', v_why USING ERRCODE = '42501';
    END;

    SELECT array_agg(DISTINCT x.id) INTO v_ids
      FROM (SELECT (v_claims ->> 'workspace_id')::uuid AS id
            UNION ALL
            SELECT (e.v #>> '{}')::uuid
              FROM jsonb_array_elements(CASE WHEN v_claims ? 'workspace_ids'
                                             THEN v_claims -> 'workspace_ids'
                                             ELSE '[]'::jsonb END) AS e(v)) AS x
     WHERE x.id IS NOT NULL;
    RETURN v_ids;
END
$function$;

REVOKE ALL ON FUNCTION campaigndb.token_workspaces(text) FROM PUBLIC;
