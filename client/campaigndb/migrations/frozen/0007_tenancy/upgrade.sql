-- source: sql/schema/70_tenancy.sql
-- Tenancy (revision 0007; docs/tenancy.md).  Roles are cluster-wide: created when missing,
-- never dropped by a revision.  Each database grants every campaigndb role CONNECT, which
-- anchors the role: revision 0001's downgrade drops only roles nothing refers to, so logins
-- keep their memberships through `downgrade base` + `upgrade head`.
--   campaigndb_tenant           EXECUTE on the workspace API; bound to its workspaces
--   campaigndb_tenant_readonly  EXECUTE on the read functions; bound likewise
--   campaigndb_admin            EXECUTE on the tenant mapping and token secret functions
DO $roles$
DECLARE
    v_role text;
BEGIN
    FOREACH v_role IN ARRAY ARRAY['campaigndb_tenant', 'campaigndb_tenant_readonly',
                                  'campaigndb_admin'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = v_role) THEN
            EXECUTE format('CREATE ROLE %I NOLOGIN', v_role);
        END IF;
    END LOOP;
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO campaigndb_app, campaigndb_readonly, '
                   'campaigndb_tenant, campaigndb_tenant_readonly, campaigndb_admin',
                   current_database());
END
$roles$;

-- Which workspaces a tenant login may touch (admin-managed: map_tenant_login).
CREATE TABLE campaigndb.tenant_logins (
    role_name     name        NOT NULL,
    workspace_id  uuid        NOT NULL REFERENCES campaigndb.workspaces (id) ON DELETE CASCADE,
    created_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT tenant_logins_pkey PRIMARY KEY (role_name, workspace_id)
);
CREATE INDEX tenant_logins_workspace_id_idx ON campaigndb.tenant_logins (workspace_id);

-- HS256 secrets of workspace tokens, stored as the two HMAC pads (key XOR ipad, key XOR
-- opad), so that a verification is two sha256 calls.  Only the owning role reads them.
CREATE TABLE campaigndb.token_secrets (
    id          integer     GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    inner_pad   bytea       NOT NULL CHECK (length(inner_pad) = 64),
    outer_pad   bytea       NOT NULL CHECK (length(outer_pad) = 64),
    created_at  timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE campaigndb.token_secrets ENABLE ROW LEVEL SECURITY;
CREATE POLICY owner_only ON campaigndb.token_secrets USING (false);  -- the owner bypasses it
ALTER TABLE campaigndb.tenant_logins ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_mapping ON campaigndb.tenant_logins FOR SELECT
    USING (role_name = session_user);

-- Idempotency keys per campaign (cost rows) and per workspace (collection log): the same
-- key in two workspaces is two keys, and a key never collides with another workspace's.
ALTER TABLE campaigndb.gmaps_api_costs DROP CONSTRAINT gmaps_api_costs_idempotency_key_key;
ALTER TABLE campaigndb.gmaps_api_costs ADD CONSTRAINT gmaps_api_costs_idempotency_key_key
    UNIQUE (campaign_id, idempotency_key);
ALTER TABLE campaigndb.collection_log DROP CONSTRAINT collection_log_idempotency_key_key;
CREATE UNIQUE INDEX collection_log_idempotency_key_key
    ON campaigndb.collection_log (workspace_id, idempotency_key) NULLS NOT DISTINCT
    WHERE idempotency_key IS NOT NULL;

-- Client-chosen ids (campaign id, execution id) are keys within their workspace: the row
-- keeps the id the client asked for in request_id; its primary key is that id unless
-- another workspace holds it, then a server-chosen one (the answer names the real id).
ALTER TABLE campaigndb.campaigns ADD COLUMN request_id uuid;
ALTER TABLE campaigndb.campaigns ADD CONSTRAINT campaigns_workspace_request_id_key
    UNIQUE (workspace_id, request_id);
ALTER TABLE campaigndb.n8n_campaign_executions ADD COLUMN request_id uuid;
ALTER TABLE campaigndb.n8n_campaign_executions
    ADD CONSTRAINT n8n_campaign_executions_workspace_request_id_key
    UNIQUE (workspace_id, request_id);
UPDATE campaigndb.campaigns SET request_id = id;
UPDATE campaigndb.n8n_campaign_executions SET request_id = id;

-- source: sql/functions/session_kind.sql
-- campaigndb.session_kind: 'service', 'tenant' or NULL (neither) for the authenticated login
-- (session_user: SET ROLE and SET cannot change it), from its role memberships.  A
-- superuser or the owner of schema campaigndb is service; a member of a tenant role is a
-- tenant even when it is also a member of a service role (the narrower wins).
CREATE OR REPLACE FUNCTION campaigndb.session_kind()
RETURNS text
LANGUAGE sql
STABLE
AS $function$
    SELECT CASE
             WHEN r.rolsuper THEN 'service'
             WHEN pg_catalog.pg_has_role(r.oid, 'campaigndb_tenant', 'MEMBER')
                  OR pg_catalog.pg_has_role(r.oid, 'campaigndb_tenant_readonly', 'MEMBER')
                  THEN 'tenant'
             WHEN pg_catalog.pg_has_role(r.oid, 'campaigndb_app', 'MEMBER')
                  OR pg_catalog.pg_has_role(r.oid, 'campaigndb_readonly', 'MEMBER')
                  OR pg_catalog.pg_has_role(r.oid, n.nspowner, 'MEMBER') THEN 'service'
           END
      FROM pg_catalog.pg_roles AS r, pg_catalog.pg_namespace AS n
     WHERE r.rolname OPERATOR(pg_catalog.=) SESSION_USER
       AND n.nspname OPERATOR(pg_catalog.=) 'campaigndb'
$function$;

REVOKE ALL ON FUNCTION campaigndb.session_kind() FROM PUBLIC;

-- source: sql/functions/token_workspaces.sql
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

-- source: sql/functions/caller_workspaces.sql
-- campaigndb.caller_workspaces: the workspaces this session may touch (docs/tenancy.md).
-- Decided from the authenticated login and its memberships (campaigndb.session_kind):
--   * service (a superuser, the owner of schema campaigndb, or a member of campaigndb_app
--     or campaigndb_readonly that is no tenant): NULL = every workspace, or the one that
--     campaigndb.workspace_id narrows it to;
--   * tenant (a member of campaigndb_tenant or campaigndb_tenant_readonly, even when also
--     a member of a service role): the workspaces campaigndb.tenant_logins maps the login
--     to, plus those of a valid token in campaigndb.token (a bad token is refused, 42501);
--     campaigndb.workspace_id may narrow that set, never widen it;
--   * anybody else: no workspace.
-- p_strict (the API functions): an empty set is refused with 42501.  Row level security
-- passes false: an unbound tenant sees no rows.
CREATE OR REPLACE FUNCTION campaigndb.caller_workspaces(p_strict boolean DEFAULT true)
RETURNS uuid[]
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_kind    text;
    v_scope   uuid[];
    v_token   text := NULLIF(current_setting('campaigndb.token', true), '');
    v_narrow  text := NULLIF(current_setting('campaigndb.workspace_id', true), '');
BEGIN
    v_kind := campaigndb.session_kind();

    IF v_narrow IS NOT NULL
       AND v_narrow !~ '^[0-9A-Fa-f]{8}-?([0-9A-Fa-f]{4}-?){3}[0-9A-Fa-f]{12}$' THEN
        RAISE EXCEPTION 'campaigndb.workspace_id is set to %, which is not a uuid',
                        quote_literal(v_narrow)
              USING ERRCODE = '22023',
                    HINT = 'SET campaigndb.workspace_id to a workspace uuid, or RESET it';
    END IF;

    IF v_kind = 'service' THEN
        RETURN CASE WHEN v_narrow IS NULL THEN NULL ELSE ARRAY[v_narrow::uuid] END;
    ELSIF v_kind = 'tenant' THEN
        SELECT array_agg(t.workspace_id) INTO v_scope
          FROM campaigndb.tenant_logins AS t
         WHERE t.role_name = session_user;
        IF v_token IS NOT NULL THEN
            v_scope := COALESCE(v_scope, '{}') || campaigndb.token_workspaces(v_token);
        END IF;
        IF v_narrow IS NOT NULL THEN
            v_scope := CASE WHEN v_narrow::uuid = ANY (v_scope) THEN ARRAY[v_narrow::uuid] END;
        END IF;
        IF cardinality(v_scope) > 0 OR NOT p_strict THEN
            RETURN COALESCE(v_scope, '{}');
        END IF;
        RAISE EXCEPTION 'this session is bound to no workspace'
              USING ERRCODE = '42501',
                    HINT = 'send a workspace token (SET LOCAL campaigndb.token), or have an '
                           'admin map this login with map_tenant_login';
    END IF;
    IF p_strict THEN
        RAISE EXCEPTION 'login % is neither a campaigndb service role nor a tenant',
                        quote_ident(session_user)
              USING ERRCODE = '42501';
    END IF;
    RETURN '{}';
END
$function$;

REVOKE ALL ON FUNCTION campaigndb.caller_workspaces(boolean) FROM PUBLIC;
-- Row level security calls it as the querying role: tenant roles may, so that a tenant
-- granted SELECT for reporting can read; grant it to any other role given table privileges.
GRANT EXECUTE ON FUNCTION campaigndb.caller_workspaces(boolean)
    TO campaigndb_tenant, campaigndb_tenant_readonly;

-- source: sql/functions/assert_workspace_access.sql
-- campaigndb.assert_workspace_access: raise 42501 unless this session may touch
-- p_workspace_id (campaigndb.caller_workspaces: a tenant's workspaces, a service session's
-- narrowing, or every workspace).  p_object names the object for the message
-- ("campaign 3f..."), without revealing which workspace owns it.
CREATE OR REPLACE FUNCTION campaigndb.assert_workspace_access(p_workspace_id uuid, p_object text)
RETURNS void
LANGUAGE plpgsql
STABLE
AS $function$
DECLARE
    v_scope uuid[] := campaigndb.caller_workspaces(true);
BEGIN
    IF v_scope IS NOT NULL
       AND (p_workspace_id OPERATOR(pg_catalog.=) ANY (v_scope)) IS NOT TRUE THEN
        RAISE EXCEPTION '% belongs to another workspace than the ones this session is bound to',
                        p_object
              USING ERRCODE = '42501',
                    HINT = 'a tenant login, its workspace token or campaigndb.workspace_id '
                           'limits this session to its workspaces';
    END IF;
END
$function$;

REVOKE ALL ON FUNCTION campaigndb.assert_workspace_access(uuid, text) FROM PUBLIC;

-- source: sql/functions/create_workspace.sql
-- create_workspace(p_name, p_workspace_id): create a workspace.
-- Isolation: READ COMMITTED; one INSERT, no locks beyond it.
-- Idempotency: p_workspace_id (optional, client-chosen) is the key: a repeat with the same
-- id and name returns the first result with replayed: true; same id, other name: 23505.
-- SQLSTATEs in the envelope: 23502 (name missing or blank), 22023 (name too long, or a
-- campaigndb.workspace_id binding that is not a uuid), 23505 (id reused), 42501 (a repeat
-- for an existing workspace other than the bound one).  Creating a new workspace while bound
-- is allowed: it is nobody else's object.
-- SECURITY DEFINER: callers hold EXECUTE only, no table privileges.
CREATE OR REPLACE FUNCTION public.create_workspace(
    p_name          text,
    p_workspace_id  uuid DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_id          uuid;
    v_prior_name  text;
    v_state text; v_msg text; v_detail text; v_hint text;
    v_constraint text; v_column text; v_table text;
BEGIN
    PERFORM campaigndb.caller_workspaces(true);  -- a garbage binding is refused (22023)
    IF campaigndb.session_kind() IS DISTINCT FROM 'service' THEN
        RAISE EXCEPTION 'workspaces are created by service sessions only' USING ERRCODE = '42501';
    END IF;
    IF p_name IS NULL OR p_name ~ '^\s*$' THEN
        RAISE EXCEPTION 'p_name is required' USING ERRCODE = '23502', COLUMN = 'name';
    END IF;
    IF length(p_name) > 200 THEN
        RAISE EXCEPTION 'p_name is longer than 200 characters'
              USING ERRCODE = '22023', COLUMN = 'name';
    END IF;

    INSERT INTO campaigndb.workspaces (id, name)
    VALUES (COALESCE(p_workspace_id, gen_random_uuid()), p_name)
    ON CONFLICT (id) DO NOTHING
    RETURNING id INTO v_id;

    IF v_id IS NULL THEN
        PERFORM campaigndb.assert_workspace_access(p_workspace_id, 'workspace ' || p_workspace_id);
        SELECT w.name INTO v_prior_name FROM campaigndb.workspaces AS w WHERE w.id = p_workspace_id;
        IF v_prior_name IS DISTINCT FROM p_name THEN
            RAISE EXCEPTION 'workspace % already exists with another name', p_workspace_id
                  USING ERRCODE = '23505', CONSTRAINT = 'workspaces_pkey',
                        HINT = 'use a new p_workspace_id for a new workspace';
        END IF;
        RETURN campaigndb.envelope_ok(jsonb_build_object(
            'workspace_id', p_workspace_id, 'replayed', true));
    END IF;

    RETURN campaigndb.envelope_ok(jsonb_build_object('workspace_id', v_id, 'replayed', false));
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

REVOKE ALL ON FUNCTION public.create_workspace(text, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.create_workspace(text, uuid) TO campaigndb_app;

-- source: sql/functions/create_campaign_with_coverage.sql
-- create_campaign_with_coverage: create a campaign and its ZIP coverage rows, atomically.
--
-- p_campaign_data: {workspace_id (required), name (required), id, status, search_query,
--                   location, keywords (array of strings), settings (object)}; other keys
--                   are refused (22023) so that a misspelt field is not silently dropped.
-- p_zip_codes:     a JSON array of ZIP strings or {zip_code, estimated_cost} objects; ZIPs are
--                   trimmed, repeats collapse (the first occurrence wins); at most 50,000.
-- Isolation: READ COMMITTED.  The coverage rows are one set-based INSERT ... SELECT.
-- Idempotency: p_campaign_data.id, a key within the workspace (revision 0007); a repeat with
-- the same id and the same input returns the first result with replayed: true; same id,
-- other input: 23505.  The answer's campaign_id is the campaign's id: the requested one,
-- unless another workspace holds it (then a new one; nothing about it is revealed).
-- SQLSTATEs in the envelope: 23502, 22023, 22P02, 23503 (workspace missing), 23514 (unknown
-- status), 23505, 54000 (too many ZIPs), 42501 (bound to another workspace).
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
                   END AS problem,
                   CASE  -- same order as above: only a missing zip_code is 23502
                     WHEN e.kind NOT IN ('string', 'object') THEN '22023'
                     WHEN e.kind = 'object' AND (e.v - 'zip_code' - 'estimated_cost') <> '{}'
                       THEN '22023'
                     WHEN e.kind = 'object'
                          AND COALESCE(jsonb_typeof(e.v -> 'zip_code'), 'null') = 'null'
                       THEN '23502'
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

-- source: sql/functions/track_campaign_cost.sql
-- track_campaign_cost: record one API cost row and add it to campaigns.total_cost, atomically.
--
-- Isolation: SERIALIZABLE, declared below (default_transaction_isolation) so that callers
-- that open the transaction from the function's settings (PostgREST) use it too.  The
-- campaign row is locked FOR NO KEY UPDATE before anything is written, so the total is also
-- exact at READ COMMITTED: concurrent callers queue on the row instead of losing an update.
-- Under SERIALIZABLE a caller that waited for that lock gets 40001 (its snapshot is older
-- than the row); 40001/40P01 are never caught here, the caller retries the transaction.
--
-- SSI hygiene, so that callers on different campaigns never conflict:
--   * enable_seqscan = off: a sequential scan of a small table would take a relation-wide
--     predicate lock and make every concurrent caller a conflict;
--   * the idempotency check is INSERT ... ON CONFLICT, whose uniqueness probe takes no
--     predicate lock; the existing row is read only on a replay;
--   * campaigns has fillfactor 70 so that the total's update stays HOT (no index write).
-- Order: UPDATE the campaign (row lock), INSERT the cost row; a reused key leaves through
-- the handler (SQLSTATE CD001, internal), which undoes the UPDATE and answers the replay.
--
-- Idempotency: p_idempotency_key, a key per campaign (revision 0007); a repeat with the same key and parameters returns the
-- first cost_id with replayed: true and adds nothing; same key, other parameters: 23505.
-- SQLSTATEs in the envelope: 23502, 22023, 22003, P0002, 42501, 23505, 55P03.
-- SECURITY DEFINER: callers hold EXECUTE only, no table privileges.
CREATE OR REPLACE FUNCTION public.track_campaign_cost(
    p_campaign_id      uuid,
    p_service          varchar,
    p_items_processed  integer,
    p_cost_usd         numeric,
    p_metadata         jsonb,
    p_idempotency_key  text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET default_transaction_isolation = 'serializable'
SET enable_seqscan = off
AS $function$
DECLARE
    v_metadata      jsonb := COALESCE(p_metadata, '{}'::jsonb);
    v_workspace_id  uuid;
    v_cost_id       uuid;
    v_total         numeric;
    v_prior         campaigndb.gmaps_api_costs%ROWTYPE;
    v_state text; v_msg text; v_detail text; v_hint text;
    v_constraint text; v_column text; v_table text;
BEGIN
    IF p_campaign_id IS NULL THEN
        RAISE EXCEPTION 'p_campaign_id is required' USING ERRCODE = '23502', COLUMN = 'campaign_id';
    ELSIF p_service IS NULL OR btrim(p_service) = '' THEN
        RAISE EXCEPTION 'p_service is required' USING ERRCODE = '23502', COLUMN = 'service';
    ELSIF length(p_service) > 64 THEN
        RAISE EXCEPTION 'p_service is longer than 64 characters'
              USING ERRCODE = '22023', COLUMN = 'service';
    ELSIF p_items_processed IS NULL THEN
        RAISE EXCEPTION 'p_items_processed is required'
              USING ERRCODE = '23502', COLUMN = 'items_processed';
    ELSIF p_items_processed < 0 THEN
        RAISE EXCEPTION 'p_items_processed must be >= 0, got %', p_items_processed
              USING ERRCODE = '22023', COLUMN = 'items_processed';
    ELSIF p_cost_usd IS NULL THEN
        RAISE EXCEPTION 'p_cost_usd is required' USING ERRCODE = '23502', COLUMN = 'cost_usd';
    ELSIF p_cost_usd IN ('NaN'::numeric, 'Infinity'::numeric, '-Infinity'::numeric)
          OR p_cost_usd < 0 THEN
        RAISE EXCEPTION 'p_cost_usd must be a finite number >= 0, got %', p_cost_usd
              USING ERRCODE = '22023', COLUMN = 'cost_usd';
    ELSIF p_cost_usd >= 1e12 THEN
        RAISE EXCEPTION 'p_cost_usd must be below 1e12, got %', p_cost_usd
              USING ERRCODE = '22003', COLUMN = 'cost_usd';
    ELSIF jsonb_typeof(v_metadata) <> 'object' THEN
        RAISE EXCEPTION 'p_metadata must be a JSON object, got %', jsonb_typeof(v_metadata)
              USING ERRCODE = '22023', COLUMN = 'metadata';
    ELSIF p_idempotency_key IS NOT NULL AND length(p_idempotency_key) NOT BETWEEN 1 AND 200 THEN
        RAISE EXCEPTION 'p_idempotency_key must be 1 to 200 characters'
              USING ERRCODE = '22023', COLUMN = 'idempotency_key';
    END IF;

    -- The UPDATE takes the campaign row lock first: concurrent callers of one campaign queue
    -- here, and everything below runs while this caller holds it.
    UPDATE campaigndb.campaigns AS c
       SET total_cost = c.total_cost + p_cost_usd,
           updated_at = now()
     WHERE c.id = p_campaign_id
    RETURNING c.workspace_id, c.total_cost INTO v_workspace_id, v_total;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'campaign % not found', p_campaign_id
              USING ERRCODE = 'P0002', TABLE = 'campaigns';
    END IF;
    PERFORM campaigndb.assert_workspace_access(v_workspace_id, 'campaign ' || p_campaign_id);

    INSERT INTO campaigndb.gmaps_api_costs
           (campaign_id, service, items_processed, cost_usd, metadata, idempotency_key)
    VALUES (p_campaign_id, p_service, p_items_processed, p_cost_usd, v_metadata,
            p_idempotency_key)
    ON CONFLICT (campaign_id, idempotency_key) DO NOTHING
    RETURNING id INTO v_cost_id;
    IF v_cost_id IS NULL THEN
        -- The key was used before.  Undo the addition above by leaving through the handler
        -- (its subtransaction rolls back), which then tells a replay from a mismatch.
        RAISE EXCEPTION 'idempotency key already used' USING ERRCODE = 'CD001';
    END IF;

    RETURN campaigndb.envelope_ok(jsonb_build_object(
        'cost_id', v_cost_id, 'new_total_cost', v_total, 'replayed', false));
EXCEPTION
    WHEN transaction_rollback THEN
        RAISE;  -- 40001/40P01 must reach the caller: the whole transaction is retried
    WHEN SQLSTATE 'CD001' THEN
        -- internal signal from above: a replay when every parameter matches the first call
        SELECT * INTO v_prior FROM campaigndb.gmaps_api_costs AS k
         WHERE k.campaign_id = p_campaign_id AND k.idempotency_key = p_idempotency_key;
        IF v_prior.service = p_service
           AND v_prior.items_processed = p_items_processed AND v_prior.cost_usd = p_cost_usd
           AND v_prior.metadata = v_metadata THEN
            SELECT c.total_cost INTO v_total FROM campaigndb.campaigns AS c
             WHERE c.id = p_campaign_id;
            RETURN campaigndb.envelope_ok(jsonb_build_object(
                'cost_id', v_prior.id, 'new_total_cost', v_total, 'replayed', true));
        END IF;
        RETURN campaigndb.envelope_error(
            '23505',
            format('idempotency key %s was already used with different parameters',
                   quote_literal(p_idempotency_key)),
            p_hint => 'generate a new key for a new cost; reuse a key only to retry the same call',
            p_constraint => 'gmaps_api_costs_idempotency_key_key');
    WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_msg = MESSAGE_TEXT,
            v_detail = PG_EXCEPTION_DETAIL, v_hint = PG_EXCEPTION_HINT,
            v_constraint = CONSTRAINT_NAME, v_column = COLUMN_NAME, v_table = TABLE_NAME;
        RETURN campaigndb.envelope_error(v_state, v_msg, v_detail, v_hint,
                                         v_constraint, v_column, v_table);
END
$function$;

REVOKE ALL ON FUNCTION public.track_campaign_cost(uuid, varchar, integer, numeric, jsonb, text)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.track_campaign_cost(uuid, varchar, integer, numeric, jsonb, text)
    TO campaigndb_app;

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
    v_scope     uuid[];
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
    v_scope := campaigndb.caller_workspaces(true);

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
                 WHEN v_scope IS NOT NULL AND c.workspace_id <> ALL (v_scope) THEN '42501'
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

-- source: sql/functions/execute_campaign_atomically.sql
-- execute_campaign_atomically: launch an n8n campaign as one atomic act: the execution row,
-- the workflow's total_executions and last_executed_at, and an audit row, all or nothing.
--
-- Locks: the workflow row FOR UPDATE NOWAIT; a busy workflow answers 55P03 with
-- retry_recommended (the client queues callers of one workflow on an advisory lock before
-- their snapshot, so they rarely see it).  Isolation: REPEATABLE READ from the client; a
-- caller whose snapshot predates another's update of the workflow gets 40001, raised.
-- Idempotency: p_execution_id, a key within the workspace (revision 0007); the same id with the same parameters answers the first
-- result with replayed: true; with other parameters 23505.
-- SQLSTATEs in the envelope: 23502, 22023, 23514 (unknown campaign type), P0002 (workflow
-- absent, or in another workspace), 55000 (workflow not active), 55P03, 23505, 42501.
-- SECURITY DEFINER: callers hold EXECUTE only, no table privileges.
CREATE OR REPLACE FUNCTION public.execute_campaign_atomically(
    p_workspace_id                  uuid,
    p_workspace_n8n_workflow_id     uuid,
    p_campaign_approval_session_id  uuid,
    p_campaign_name                 text,
    p_campaign_type                 text,
    p_execution_config              jsonb DEFAULT '{}',
    p_execution_id                  uuid DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_config      jsonb := COALESCE(p_execution_config, '{}'::jsonb);
    v_workflow    record;
    v_prior       campaigndb.n8n_campaign_executions%ROWTYPE;
    v_id          uuid;
    v_total       integer;
    v_state text; v_msg text; v_detail text; v_hint text;
    v_constraint text; v_column text; v_table text;
BEGIN
    IF p_workspace_id IS NULL THEN
        RAISE EXCEPTION 'p_workspace_id is required' USING ERRCODE = '23502', COLUMN = 'workspace_id';
    ELSIF p_workspace_n8n_workflow_id IS NULL THEN
        RAISE EXCEPTION 'p_workspace_n8n_workflow_id is required'
              USING ERRCODE = '23502', COLUMN = 'workspace_n8n_workflow_id';
    ELSIF p_campaign_name IS NULL OR p_campaign_name ~ '^\s*$' THEN
        RAISE EXCEPTION 'p_campaign_name is required' USING ERRCODE = '23502', COLUMN = 'campaign_name';
    ELSIF length(p_campaign_name) > 500 THEN
        RAISE EXCEPTION 'p_campaign_name is longer than 500 characters'
              USING ERRCODE = '22023', COLUMN = 'campaign_name';
    ELSIF p_campaign_type IS NULL THEN
        RAISE EXCEPTION 'p_campaign_type is required' USING ERRCODE = '23502', COLUMN = 'campaign_type';
    ELSIF p_campaign_type NOT IN ('email', 'linkedin', 'sms', 'gmaps', 'facebook', 'multichannel') THEN
        RAISE EXCEPTION 'unknown campaign type %; expected email, linkedin, sms, gmaps, facebook '
                        'or multichannel', quote_literal(left(p_campaign_type, 40))
              USING ERRCODE = '23514', CONSTRAINT = 'n8n_campaign_executions_campaign_type_check',
                    COLUMN = 'campaign_type';
    ELSIF jsonb_typeof(v_config) <> 'object' THEN
        RAISE EXCEPTION 'p_execution_config must be a JSON object, got %', jsonb_typeof(v_config)
              USING ERRCODE = '22023', COLUMN = 'execution_config';
    END IF;
    PERFORM campaigndb.assert_workspace_access(p_workspace_id, 'workspace ' || p_workspace_id);

    IF p_execution_id IS NOT NULL THEN
        SELECT * INTO v_prior FROM campaigndb.n8n_campaign_executions AS e
         WHERE e.workspace_id = p_workspace_id AND e.request_id = p_execution_id;
        IF FOUND THEN
            RETURN campaigndb.execution_replay(
                v_prior, p_workspace_id, p_workspace_n8n_workflow_id,
                p_campaign_approval_session_id, p_campaign_name, p_campaign_type, v_config);
        END IF;
    END IF;

    SELECT w.workspace_id, w.deployment_status INTO v_workflow
      FROM campaigndb.workspace_n8n_workflows AS w
     WHERE w.id = p_workspace_n8n_workflow_id
       AND w.workspace_id = p_workspace_id  -- another workspace's row is never locked
       FOR UPDATE NOWAIT;
    IF NOT FOUND OR v_workflow.workspace_id <> p_workspace_id THEN
        RAISE EXCEPTION 'workflow % not found in workspace %', p_workspace_n8n_workflow_id,
                        p_workspace_id
              USING ERRCODE = 'P0002', TABLE = 'workspace_n8n_workflows';
    ELSIF v_workflow.deployment_status <> 'active' THEN
        RAISE EXCEPTION 'workflow % is %, not active', p_workspace_n8n_workflow_id,
                        v_workflow.deployment_status
              USING ERRCODE = '55000', HINT = 'register the workflow again with status active';
    END IF;

    UPDATE campaigndb.workspace_n8n_workflows AS w
       SET total_executions = w.total_executions + 1,
           last_executed_at = now(),
           updated_at = now()
     WHERE w.id = p_workspace_n8n_workflow_id
    RETURNING w.total_executions INTO v_total;

    -- The client's id is a key within the workspace (request_id); an id another workspace
    -- holds is never seen: this execution then gets its own.
    FOR v_try IN 1..2 LOOP
        INSERT INTO campaigndb.n8n_campaign_executions
               (id, request_id, workspace_id, workspace_n8n_workflow_id,
                campaign_approval_session_id, campaign_name, campaign_type, execution_status,
                execution_config, execution_number)
        VALUES (CASE WHEN v_try = 1 THEN COALESCE(p_execution_id, gen_random_uuid())
                     ELSE gen_random_uuid() END,
                p_execution_id, p_workspace_id, p_workspace_n8n_workflow_id,
                p_campaign_approval_session_id, p_campaign_name, p_campaign_type, 'pending',
                v_config, v_total)
        ON CONFLICT DO NOTHING
        RETURNING id INTO v_id;
        EXIT WHEN v_id IS NOT NULL;
        IF EXISTS (SELECT 1 FROM campaigndb.n8n_campaign_executions AS e
                    WHERE e.workspace_id = p_workspace_id AND e.request_id = p_execution_id) THEN
            -- the same key committed meanwhile (a concurrent repeat): undo, answer a replay
            RAISE EXCEPTION 'execution id already used' USING ERRCODE = 'CD001';
        END IF;
    END LOOP;
    IF v_id IS NULL THEN
        RAISE EXCEPTION 'execution id conflict, retry' USING ERRCODE = '40001';
    END IF;

    INSERT INTO campaigndb.workflow_deployment_history
           (workspace_id, workflow_id, execution_id, event_type, details)
    VALUES (p_workspace_id, p_workspace_n8n_workflow_id, v_id, 'campaign_execution_started',
            jsonb_build_object('campaign_name', p_campaign_name, 'campaign_type', p_campaign_type,
                               'campaign_approval_session_id', p_campaign_approval_session_id,
                               'execution_number', v_total));

    RETURN campaigndb.envelope_ok(jsonb_build_object(
        'execution_id', v_id, 'execution_status', 'pending', 'total_executions', v_total,
        'replayed', false));
EXCEPTION
    WHEN transaction_rollback THEN
        RAISE;  -- 40001/40P01 must reach the caller: the whole transaction is retried
    WHEN SQLSTATE 'CD001' THEN
        BEGIN  -- a handler's own errors are not caught by its block: catch them here
            SELECT * INTO v_prior FROM campaigndb.n8n_campaign_executions AS e
             WHERE e.workspace_id = p_workspace_id AND e.request_id = p_execution_id;
            RETURN campaigndb.execution_replay(
                v_prior, p_workspace_id, p_workspace_n8n_workflow_id,
                p_campaign_approval_session_id, p_campaign_name, p_campaign_type, v_config);
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_msg = MESSAGE_TEXT,
                v_hint = PG_EXCEPTION_HINT, v_constraint = CONSTRAINT_NAME;
            RETURN campaigndb.envelope_error(v_state, v_msg, NULL, v_hint, v_constraint);
        END;
    WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_msg = MESSAGE_TEXT,
            v_detail = PG_EXCEPTION_DETAIL, v_hint = PG_EXCEPTION_HINT,
            v_constraint = CONSTRAINT_NAME, v_column = COLUMN_NAME, v_table = TABLE_NAME;
        RETURN campaigndb.envelope_error(v_state, v_msg, v_detail, v_hint,
                                         v_constraint, v_column, v_table);
END
$function$;

REVOKE ALL ON FUNCTION public.execute_campaign_atomically(uuid, uuid, uuid, text, text, jsonb, uuid)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.execute_campaign_atomically(uuid, uuid, uuid, text, text, jsonb, uuid)
    TO campaigndb_app;

-- source: sql/functions/get_database_health_metrics.sql
-- get_database_health_metrics: the server's vital signs for monitoring and the client's
-- health monitor: the server's client connections by state against max_connections, the
-- buffer cache hit ratio, the database size, the longest open transaction, waiting locks
-- and deadlocks so far (pg_stat_activity, pg_stat_database, pg_locks, settings).
-- The owning role should be a member of pg_monitor (superusers are): without it the states
-- of other roles' sessions are hidden and count as unknown.
-- Isolation: READ COMMITTED, read only.  SECURITY DEFINER: callers hold EXECUTE only.
CREATE OR REPLACE FUNCTION public.get_database_health_metrics()
RETURNS jsonb
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_connections  jsonb;
    v_max          integer := current_setting('max_connections')::integer;
    v_state text; v_msg text; v_detail text; v_hint text;
    v_constraint text; v_column text; v_table text;
BEGIN
    IF campaigndb.session_kind() IS DISTINCT FROM 'service' THEN  -- cluster-wide figures
        RAISE EXCEPTION 'database health is for service sessions only' USING ERRCODE = '42501';
    END IF;
    SELECT jsonb_build_object(
               'total', count(*),
               'active', count(*) FILTER (WHERE a.state = 'active'),
               'idle', count(*) FILTER (WHERE a.state = 'idle'),
               'idle_in_transaction', count(*) FILTER (WHERE a.state LIKE 'idle in transaction%'),
               'max', v_max,
               'usage_pct', round(100.0 * count(*) / v_max, 2))
      INTO v_connections
      FROM pg_stat_activity AS a
     WHERE a.backend_type = 'client backend';

    RETURN campaigndb.envelope_ok(jsonb_build_object(
        'connections', v_connections,
        'cache_hit_ratio',
            (SELECT round(d.blks_hit::numeric / NULLIF(d.blks_hit + d.blks_read, 0), 4)
               FROM pg_stat_database AS d WHERE d.datname = current_database()),
        'database_size_bytes', pg_database_size(current_database()),
        'longest_transaction_s',
            (SELECT COALESCE(round(extract(epoch FROM max(clock_timestamp() - a.xact_start))::numeric, 3), 0)
               FROM pg_stat_activity AS a
              WHERE a.xact_start IS NOT NULL AND a.backend_type = 'client backend'
                AND a.pid <> pg_backend_pid()),
        'waiting_locks', (SELECT count(*) FROM pg_locks AS l WHERE NOT l.granted),
        'deadlocks',
            (SELECT d.deadlocks FROM pg_stat_database AS d WHERE d.datname = current_database()),
        'measured_at', clock_timestamp()));
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

REVOKE ALL ON FUNCTION public.get_database_health_metrics() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.get_database_health_metrics() TO campaigndb_app, campaigndb_readonly;

-- source: sql/functions/record_transaction_metric.sql
-- record_transaction_metric: store one measurement of a call or transaction and return the
-- row's id (CONTRACT.md section 3, Observability: a uuid, not an envelope).
-- p_metric_id (optional, trailing) is the row's id chosen by the caller, and so its
-- idempotency key: a repeat with the same id and the same measurement returns that id and
-- stores nothing (a retry after a lost reply does not count the measurement twice); the
-- same id with another measurement raises 23505.
-- Raises on bad input: 23502 (operation, duration or success missing), 22023 (negative
-- duration or retries, over-long text), 23503 (unknown campaign), 42501 (campaign of
-- another workspace than the bound one), 23505 (id reused).
-- Isolation: READ COMMITTED; one INSERT.
-- SECURITY DEFINER: callers hold EXECUTE only, no table privileges.

-- the form without p_metric_id (revision 0004): replaced by the one below, whose trailing
-- default keeps every existing call valid
DROP FUNCTION IF EXISTS public.record_transaction_metric(varchar, uuid, integer, boolean, text,
                                                         integer, varchar);

CREATE OR REPLACE FUNCTION public.record_transaction_metric(
    p_operation_name   varchar,
    p_campaign_id      uuid,
    p_duration_ms      integer,
    p_success          boolean,
    p_error_message    text DEFAULT NULL,
    p_retry_count      integer DEFAULT 0,
    p_isolation_level  varchar DEFAULT NULL,
    p_metric_id        uuid DEFAULT NULL)
RETURNS uuid
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_workspace_id  uuid;
    v_id            uuid;
    v_prior         campaigndb.transaction_metrics%ROWTYPE;
BEGIN
    IF p_operation_name IS NULL OR p_operation_name ~ '^\s*$' THEN
        RAISE EXCEPTION 'p_operation_name is required' USING ERRCODE = '23502';
    ELSIF length(p_operation_name) > 255 OR length(p_isolation_level) > 50 THEN
        RAISE EXCEPTION 'p_operation_name (255) or p_isolation_level (50) is too long'
              USING ERRCODE = '22023';
    ELSIF p_duration_ms IS NULL OR p_success IS NULL THEN
        RAISE EXCEPTION 'p_duration_ms and p_success are required' USING ERRCODE = '23502';
    ELSIF p_duration_ms < 0 OR COALESCE(p_retry_count, 0) < 0 THEN
        RAISE EXCEPTION 'p_duration_ms and p_retry_count must be >= 0' USING ERRCODE = '22023';
    END IF;
    PERFORM campaigndb.caller_workspaces(true);  -- an unbound tenant records nothing (42501)
    IF p_campaign_id IS NOT NULL THEN
        SELECT c.workspace_id INTO v_workspace_id FROM campaigndb.campaigns AS c
         WHERE c.id = p_campaign_id;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'campaign % does not exist', p_campaign_id
                  USING ERRCODE = '23503', COLUMN = 'campaign_id';
        END IF;
        PERFORM campaigndb.assert_workspace_access(v_workspace_id, 'campaign ' || p_campaign_id);
    END IF;
    INSERT INTO campaigndb.transaction_metrics
           (id, operation_name, campaign_id, duration_ms, success, error_message, retry_count,
            isolation_level)
    VALUES (COALESCE(p_metric_id, gen_random_uuid()), p_operation_name, p_campaign_id,
            p_duration_ms, p_success, left(p_error_message, 10000), COALESCE(p_retry_count, 0),
            p_isolation_level)
    ON CONFLICT (id) DO NOTHING
    RETURNING id INTO v_id;
    IF v_id IS NULL THEN
        SELECT * INTO v_prior FROM campaigndb.transaction_metrics AS m WHERE m.id = p_metric_id;
        IF (v_prior.operation_name, v_prior.campaign_id, v_prior.duration_ms, v_prior.success,
            v_prior.error_message, v_prior.retry_count, v_prior.isolation_level)
           IS NOT DISTINCT FROM
           (p_operation_name::varchar(255), p_campaign_id, p_duration_ms, p_success,
            left(p_error_message, 10000), COALESCE(p_retry_count, 0),
            p_isolation_level::varchar(50)) THEN
            RETURN p_metric_id;  -- the same measurement again: a retry
        END IF;
        RAISE EXCEPTION 'metric id % was already used for another measurement', p_metric_id
              USING ERRCODE = '23505', CONSTRAINT = 'transaction_metrics_pkey',
                    HINT = 'use a new id for a new measurement';
    END IF;
    RETURN v_id;
END
$function$;

REVOKE ALL ON FUNCTION public.record_transaction_metric(varchar, uuid, integer, boolean, text,
                                                        integer, varchar, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.record_transaction_metric(varchar, uuid, integer, boolean, text,
                                                           integer, varchar, uuid)
    TO campaigndb_app;

-- source: sql/functions/record_transaction_metrics.sql
-- record_transaction_metrics: many measurements in one INSERT (the client's background
-- recorder flushes its buffer with it, so that recording costs calls nothing).
-- p_metrics: a JSON array of at most 10,000 elements, all of one form:
--   objects {operation_name, campaign_id, duration_ms, success, error_message, retry_count,
--            isolation_level, created_at (epoch seconds)}, or
--   arrays  [operation_name, campaign_id, duration_ms, success, error_message, retry_count,
--            isolation_level, created_at] (4 to 8 values; missing trailing ones are null).
-- The client sends arrays (revision 0006): half the JSON of objects, no key to look up per
-- field, and a fifth less server time per flush, measured.
-- Elements whose campaign no longer exists (or is of another workspace than the bound one)
-- are stored without it.  The campaigns are looked up by primary key, once per distinct id
-- (a flush names a handful): a join of the whole batch with campaigns became a sequential
-- scan of that table per flush, whose page pins kept the hottest campaign rows from being
-- pruned (non-HOT updates, then serialization conflicts for the very calls being measured).
-- Returns the number of rows written; raises 22023/22P02/23502/54000 on a malformed batch.
-- SECURITY DEFINER: callers hold EXECUTE only, no table privileges.
CREATE OR REPLACE FUNCTION public.record_transaction_metrics(p_metrics jsonb)
RETURNS integer
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_scope  uuid[] := campaigndb.caller_workspaces(true);
    v_form   text;
    v_rows   integer;
    v_bad    bigint;
    v_ids    text[];
    v_known  uuid[];
    v_rand   text;
    v_head   text;
    v_start  bigint;
BEGIN
    IF p_metrics IS NULL OR jsonb_typeof(p_metrics) <> 'array' THEN
        RAISE EXCEPTION 'p_metrics must be a JSON array' USING ERRCODE = '22023';
    ELSIF jsonb_array_length(p_metrics) > 10000 THEN
        RAISE EXCEPTION 'p_metrics holds % elements; the limit is 10000',
                        jsonb_array_length(p_metrics) USING ERRCODE = '54000';
    END IF;
    v_form := COALESCE(jsonb_typeof(p_metrics -> 0), 'object');
    -- one pass: every element of the first one's form, and the distinct campaigns named
    SELECT min(m.n) FILTER (WHERE m.bad),
           array_agg(DISTINCT m.campaign) FILTER (WHERE NOT m.bad AND m.campaign IS NOT NULL)
      INTO v_bad, v_ids
      FROM (SELECT e.n,
                   CASE WHEN jsonb_typeof(e.value) <> v_form THEN true
                        WHEN v_form = 'array' THEN jsonb_array_length(e.value) NOT BETWEEN 4 AND 8
                        ELSE v_form <> 'object' END AS bad,
                   CASE WHEN jsonb_typeof(e.value) = 'array' THEN e.value ->> 1
                        WHEN jsonb_typeof(e.value) = 'object' THEN e.value ->> 'campaign_id'
                   END AS campaign
              FROM jsonb_array_elements(p_metrics) WITH ORDINALITY AS e(value, n)) AS m;
    IF v_bad IS NOT NULL THEN
        RAISE EXCEPTION 'p_metrics element % is not %', v_bad - 1,
                        CASE WHEN v_form = 'array'
                             THEN 'an array of 4 to 8 values like the first element'
                             ELSE 'an object like the first element' END
              USING ERRCODE = '22023',
                    HINT = 'elements are all objects {operation_name, campaign_id, duration_ms, '
                           'success, ...} or all arrays [operation_name, campaign_id, '
                           'duration_ms, success, error_message, retry_count, '
                           'isolation_level, created_at]';
    END IF;
    SELECT array_agg(c.id) INTO v_known
      FROM campaigndb.campaigns AS c
     WHERE c.id = ANY (v_ids::uuid[]) AND (v_scope IS NULL OR c.workspace_id = ANY (v_scope));
    -- Time-ordered ids in the UUIDv7 layout, so that a flush's rows land on the right edge of
    -- the primary key instead of on random leaf pages (each of which costs a full-page image
    -- in the WAL after every checkpoint: 716 -> 413 WAL bytes per row, measured).  One clock
    -- read and one random draw per batch, not per row (gen_random_uuid() per row was a fifth
    -- of the flush's time): 48 bits of Unix milliseconds, version 7, 12 random bits, the
    -- variant, 12 random bits, then a random 47-bit start plus the row's position, so a
    -- batch's ids are unique and ascending; two batches of the same millisecond can share an
    -- id only if their 24 random bits agree and their starts lie within 10,000 of each other
    -- (odds of about 1 in 10^17; the primary key would refuse the flush, replacing nothing).
    v_rand := replace(gen_random_uuid()::text, '-', '');
    v_head := lpad(to_hex(floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint), 12, '0')
              || '7' || substr(v_rand, 1, 3) || '8' || substr(v_rand, 4, 3);
    v_start := ('x' || substr(v_rand, 18, 12))::bit(48)::bigint & 140737488355327;  -- 2^47 - 1
    INSERT INTO campaigndb.transaction_metrics
           (id, operation_name, campaign_id, duration_ms, success, error_message, retry_count,
            isolation_level, created_at)
    SELECT (v_head || lpad(to_hex(v_start + m.n), 12, '0'))::uuid,
           m.operation_name, CASE WHEN m.campaign_id = ANY (v_known) THEN m.campaign_id END,
           GREATEST(m.duration_ms::integer, 0), m.success::boolean,
           left(m.error_message, 10000), GREATEST(COALESCE(m.retry_count::integer, 0), 0),
           m.isolation_level, COALESCE(to_timestamp(m.created_at::double precision), now())
      FROM jsonb_array_elements(p_metrics) WITH ORDINALITY AS e(value, n)
           CROSS JOIN LATERAL (
               SELECT e.n,
                      CASE WHEN v_form = 'array' THEN e.value ->> 0
                           ELSE e.value ->> 'operation_name' END AS operation_name,
                      (CASE WHEN v_form = 'array' THEN e.value ->> 1
                            ELSE e.value ->> 'campaign_id' END)::uuid AS campaign_id,
                      CASE WHEN v_form = 'array' THEN e.value ->> 2
                           ELSE e.value ->> 'duration_ms' END AS duration_ms,
                      CASE WHEN v_form = 'array' THEN e.value ->> 3
                           ELSE e.value ->> 'success' END AS success,
                      CASE WHEN v_form = 'array' THEN e.value ->> 4
                           ELSE e.value ->> 'error_message' END AS error_message,
                      CASE WHEN v_form = 'array' THEN e.value ->> 5
                           ELSE e.value ->> 'retry_count' END AS retry_count,
                      CASE WHEN v_form = 'array' THEN e.value ->> 6
                           ELSE e.value ->> 'isolation_level' END AS isolation_level,
                      CASE WHEN v_form = 'array' THEN e.value ->> 7
                           ELSE e.value ->> 'created_at' END AS created_at
           ) AS m;
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    RETURN v_rows;
END
$function$;

REVOKE ALL ON FUNCTION public.record_transaction_metrics(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.record_transaction_metrics(jsonb) TO campaigndb_app;

-- source: sql/functions/collection_log_replay.sql
-- campaigndb.collection_log_replay: the answer to a call whose idempotency key is already on
-- a collection_log row (the reporting functions raise the internal SQLSTATE CD001 to reach
-- it).  p_job and p_hash identify the call: the same job and request hash replay the first
-- result (replayed: true); anything else is the key reused with other parameters (23505).
-- Only the rows of the session's workspaces are looked at (keys are per workspace, so
-- another workspace's use of a key is never seen, revision 0007).  p_what names the unit for the hint
-- ('batch', 'run').  Runs inside the calling SECURITY DEFINER function, with its
-- pinned search_path.
CREATE OR REPLACE FUNCTION campaigndb.collection_log_replay(
    p_key   text,
    p_job   text,
    p_hash  text,
    p_what  text)
RETURNS jsonb
LANGUAGE plpgsql
STABLE
AS $function$
DECLARE
    v_scope  uuid[] := campaigndb.caller_workspaces(true);
    v_prior  campaigndb.collection_log%ROWTYPE;
BEGIN
    SELECT * INTO v_prior FROM campaigndb.collection_log AS l
     WHERE l.idempotency_key OPERATOR(pg_catalog.=) p_key
       AND (v_scope IS NULL OR l.workspace_id OPERATOR(pg_catalog.=) ANY (v_scope))
     ORDER BY l.id
     LIMIT 1;
    IF v_prior.job OPERATOR(pg_catalog.=) p_job
       AND v_prior.request_hash OPERATOR(pg_catalog.=) p_hash THEN
        RETURN campaigndb.envelope_ok(v_prior.result OPERATOR(pg_catalog.||)
            pg_catalog.jsonb_build_object('collection_log_id', v_prior.id, 'replayed', true));
    END IF;
    RETURN campaigndb.envelope_error(
        '23505',
        pg_catalog.format('idempotency key %s was already used with different parameters',
                          pg_catalog.quote_literal(p_key)),
        p_hint => pg_catalog.format('generate a new key for a new %s; reuse a key only to '
                                    'retry the same call', p_what),
        p_constraint => 'collection_log_idempotency_key_key');
END
$function$;

REVOKE ALL ON FUNCTION campaigndb.collection_log_replay(text, text, text, text) FROM PUBLIC;

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
    SELECT r.id INTO v_missing
      FROM unnest(v_campaigns) AS r(id)
     WHERE NOT EXISTS (SELECT 1 FROM campaigndb.campaigns AS c WHERE c.id = r.id)
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
               revenue = EXCLUDED.revenue, source = EXCLUDED.source, updated_at = now()
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

-- source: sql/functions/aggregate_monthly_kpis.sql
-- aggregate_monthly_kpis: replace one month's campaign_summaries with the totals of
-- daily_kpi_data, and write its collection_log row, all or nothing.
--
-- p_month: any day of the month (the summary's period_start is its first day).
-- p_campaign_id: only that campaign (P0002 when it does not exist); NULL: every campaign,
-- or, when the session is bound to a workspace, every campaign of that workspace.
-- For each campaign in scope with daily rows in the month: the sums of impressions,
-- clicks, spend, conversions and revenue, days_reported (distinct dates), and the ratios
-- ctr = clicks / impressions, cpc = spend / clicks, conversion_rate = conversions / clicks,
-- roas = revenue / spend, each NULL when its divisor is 0 (rounded to 6 decimals).
-- The month's previous summaries in scope are deleted first, so a campaign whose rows are
-- gone loses its summary, and a re-run gives the same result (never doubled).
--
-- Concurrency: runs for the same month (any scope) are serialised by a transaction-level
-- advisory lock taken before anything is read; at READ COMMITTED the second run's
-- statements then see the first run's committed result and replace it with the same
-- figures.  A failure part-way (any error) undoes the whole call: the previous summaries
-- stay, and no collection_log row is written; the envelope reports the failure.
-- Idempotency: p_idempotency_key (optional), as in upsert_daily_kpi_batch: a retry of a
-- call that committed answers its first result with replayed: true.
-- SQLSTATEs in the envelope: 23502, 22023, P0002, 42501, 23505.
-- SECURITY DEFINER: callers hold EXECUTE only, no table privileges.
CREATE OR REPLACE FUNCTION public.aggregate_monthly_kpis(
    p_month            date,
    p_campaign_id      uuid DEFAULT NULL,
    p_idempotency_key  text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    -- first key of the advisory lock: this function's own namespace
    c_lock_space    constant integer := 727115001;
    v_scope         uuid[];
    v_month         date;
    v_next          date;
    v_workspace_id  uuid;
    v_hash          text;
    v_deleted       integer;
    v_written       integer;
    v_result        jsonb;
    v_log_id        bigint;
    v_state text; v_msg text; v_detail text; v_hint text;
    v_constraint text; v_column text; v_table text;
BEGIN
    -- here, not in DECLARE: a malformed binding must reach the handler below (22023)
    v_scope := campaigndb.caller_workspaces(true);
    IF p_month IS NULL THEN
        RAISE EXCEPTION 'p_month is required' USING ERRCODE = '23502', COLUMN = 'month';
    ELSIF p_month NOT BETWEEN DATE '1000-01-01' AND DATE '2999-12-31' THEN
        RAISE EXCEPTION 'p_month must be between 1000 and 2999, got %', p_month
              USING ERRCODE = '22023', COLUMN = 'month';
    ELSIF p_idempotency_key IS NOT NULL AND length(p_idempotency_key) NOT BETWEEN 1 AND 200 THEN
        RAISE EXCEPTION 'p_idempotency_key must be 1 to 200 characters'
              USING ERRCODE = '22023', COLUMN = 'idempotency_key';
    END IF;
    v_month := date_trunc('month', p_month)::date;
    v_next := (v_month + interval '1 month')::date;
    v_hash := md5(jsonb_build_array('aggregate_monthly_kpis', v_month, p_campaign_id)::text);

    IF p_idempotency_key IS NOT NULL THEN
        PERFORM FROM campaigndb.collection_log AS l
         WHERE l.idempotency_key = p_idempotency_key
           AND (v_scope IS NULL OR l.workspace_id = ANY (v_scope));
        IF FOUND THEN
            RAISE EXCEPTION 'idempotency key already used' USING ERRCODE = 'CD001';
        END IF;
    END IF;

    IF p_campaign_id IS NOT NULL THEN
        SELECT c.workspace_id INTO v_workspace_id FROM campaigndb.campaigns AS c
         WHERE c.id = p_campaign_id;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'campaign % not found', p_campaign_id
                  USING ERRCODE = 'P0002', TABLE = 'campaigns';
        END IF;
        PERFORM campaigndb.assert_workspace_access(v_workspace_id, 'campaign ' || p_campaign_id);
    ELSIF cardinality(v_scope) = 1 THEN
        v_workspace_id := v_scope[1];
    ELSIF v_scope IS NOT NULL AND p_idempotency_key IS NOT NULL THEN
        -- a key lives in one workspace: name the campaign, or bind the session to one
        RAISE EXCEPTION 'a session bound to several workspaces must name p_campaign_id '
                        'to use an idempotency key'
              USING ERRCODE = '22023', COLUMN = 'idempotency_key';
    END IF;

    -- One run per month at a time.  At READ COMMITTED each statement below takes its
    -- snapshot after this lock is granted, so it sees a concurrent run's committed result.
    PERFORM pg_advisory_xact_lock(c_lock_space, hashtext(v_month::text));

    DELETE FROM campaigndb.campaign_summaries AS s
     WHERE s.period_type = 'month' AND s.period_start = v_month
       AND (p_campaign_id IS NULL OR s.campaign_id = p_campaign_id)
       AND (v_scope IS NULL OR p_campaign_id IS NOT NULL
            OR s.campaign_id IN (SELECT c.id FROM campaigndb.campaigns AS c
                                  WHERE c.workspace_id = ANY (v_scope)));
    GET DIAGNOSTICS v_deleted = ROW_COUNT;

    INSERT INTO campaigndb.campaign_summaries
           (campaign_id, period_type, period_start, impressions, clicks, spend, conversions,
            revenue, ctr, cpc, conversion_rate, roas, days_reported, computed_at)
    SELECT t.campaign_id, 'month', v_month, t.impressions, t.clicks, t.spend, t.conversions,
           t.revenue,
           round(t.clicks::numeric / NULLIF(t.impressions, 0), 6),
           round(t.spend / NULLIF(t.clicks, 0), 6),
           round(t.conversions::numeric / NULLIF(t.clicks, 0), 6),
           round(t.revenue / NULLIF(t.spend, 0), 6),
           t.days_reported, now()
      FROM (SELECT d.campaign_id, sum(d.impressions)::bigint AS impressions,
                   sum(d.clicks)::bigint AS clicks, sum(d.spend) AS spend,
                   sum(d.conversions)::bigint AS conversions, sum(d.revenue) AS revenue,
                   count(DISTINCT d.kpi_date)::integer AS days_reported
              FROM campaigndb.daily_kpi_data AS d
             WHERE d.kpi_date >= v_month AND d.kpi_date < v_next
               AND (p_campaign_id IS NULL OR d.campaign_id = p_campaign_id)
               AND (v_scope IS NULL OR p_campaign_id IS NOT NULL
                    OR d.campaign_id IN (SELECT c.id FROM campaigndb.campaigns AS c
                                          WHERE c.workspace_id = ANY (v_scope)))
             GROUP BY d.campaign_id) AS t;
    GET DIAGNOSTICS v_written = ROW_COUNT;

    v_result := jsonb_build_object(
        'summaries_written', v_written, 'summaries_replaced', v_deleted,
        'month', v_month, 'campaign_id', p_campaign_id);
    INSERT INTO campaigndb.collection_log
           (workspace_id, job, period, status, rows_affected, started_at, finished_at,
            idempotency_key, request_hash, result)
    VALUES (v_workspace_id, 'aggregate_monthly_kpis', to_char(v_month, 'YYYY-MM'),
            'succeeded', v_written, now(), clock_timestamp(), p_idempotency_key, v_hash,
            v_result)
    ON CONFLICT DO NOTHING  -- the key's index: (workspace_id, idempotency_key)
    RETURNING id INTO v_log_id;
    IF v_log_id IS NULL THEN
        RAISE EXCEPTION 'idempotency key already used' USING ERRCODE = 'CD001';
    END IF;

    RETURN campaigndb.envelope_ok(v_result || jsonb_build_object(
        'collection_log_id', v_log_id, 'replayed', false));
EXCEPTION
    WHEN transaction_rollback THEN
        RAISE;  -- 40001/40P01 must reach the caller: the whole transaction is retried
    WHEN SQLSTATE 'CD001' THEN
        -- internal signal from above: the key is on a collection_log row already
        RETURN campaigndb.collection_log_replay(p_idempotency_key, 'aggregate_monthly_kpis', v_hash, 'run');
    WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_msg = MESSAGE_TEXT,
            v_detail = PG_EXCEPTION_DETAIL, v_hint = PG_EXCEPTION_HINT,
            v_constraint = CONSTRAINT_NAME, v_column = COLUMN_NAME, v_table = TABLE_NAME;
        RETURN campaigndb.envelope_error(v_state, v_msg, v_detail, v_hint,
                                         v_constraint, v_column, v_table);
END
$function$;

REVOKE ALL ON FUNCTION public.aggregate_monthly_kpis(date, uuid, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.aggregate_monthly_kpis(date, uuid, text) TO campaigndb_app;

-- source: sql/functions/map_tenant_login.sql
-- map_tenant_login: let a tenant login (a member of campaigndb_tenant
-- or campaigndb_tenant_readonly) touch a workspace
-- (unmap_tenant_login undoes it).  A login may be mapped to
-- several workspaces.  Only campaigndb_admin (and superusers) may execute them.
-- SQLSTATEs in the envelope: 23502, 22023 (no such login, or not a tenant), 23503 (no such
-- workspace).  Idempotent: mapping twice or unmapping an absent pair changes nothing.
CREATE OR REPLACE FUNCTION public.map_tenant_login(p_role name, p_workspace_id uuid)
RETURNS jsonb
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_added integer;
    v_state text; v_msg text; v_detail text; v_hint text;
    v_constraint text; v_column text; v_table text;
BEGIN
    IF p_role IS NULL OR p_workspace_id IS NULL THEN
        RAISE EXCEPTION 'p_role and p_workspace_id are required' USING ERRCODE = '23502';
    ELSIF NOT EXISTS (SELECT 1 FROM pg_roles AS r WHERE r.rolname = p_role
                         AND NOT r.rolsuper
                         AND (pg_has_role(r.oid, 'campaigndb_tenant', 'MEMBER')
                              OR pg_has_role(r.oid, 'campaigndb_tenant_readonly', 'MEMBER'))) THEN
        RAISE EXCEPTION 'role % does not exist or is no member of campaigndb_tenant or '
                        'campaigndb_tenant_readonly', quote_ident(p_role)
              USING ERRCODE = '22023', HINT = 'GRANT campaigndb_tenant TO the login first';
    ELSIF NOT EXISTS (SELECT 1 FROM campaigndb.workspaces AS w WHERE w.id = p_workspace_id) THEN
        RAISE EXCEPTION 'workspace % does not exist', p_workspace_id
              USING ERRCODE = '23503', CONSTRAINT = 'tenant_logins_workspace_id_fkey';
    END IF;
    INSERT INTO campaigndb.tenant_logins (role_name, workspace_id)
    VALUES (p_role, p_workspace_id)
    ON CONFLICT DO NOTHING;
    GET DIAGNOSTICS v_added = ROW_COUNT;
    RETURN campaigndb.envelope_ok(jsonb_build_object(
        'role', p_role, 'workspace_id', p_workspace_id, 'changed', v_added > 0));
EXCEPTION
    WHEN transaction_rollback THEN
        RAISE;
    WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_msg = MESSAGE_TEXT,
            v_detail = PG_EXCEPTION_DETAIL, v_hint = PG_EXCEPTION_HINT,
            v_constraint = CONSTRAINT_NAME, v_column = COLUMN_NAME, v_table = TABLE_NAME;
        RETURN campaigndb.envelope_error(v_state, v_msg, v_detail, v_hint,
                                         v_constraint, v_column, v_table);
END
$function$;

REVOKE ALL ON FUNCTION public.map_tenant_login(name, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.map_tenant_login(name, uuid) TO campaigndb_admin;

-- source: sql/functions/unmap_tenant_login.sql
-- unmap_tenant_login: stop a tenant login touching a workspace (see map_tenant_login).
-- Only campaigndb_admin (and superusers) may execute it.  Removing an absent pair changes nothing.
CREATE OR REPLACE FUNCTION public.unmap_tenant_login(p_role name, p_workspace_id uuid)
RETURNS jsonb
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_removed integer;
BEGIN
    IF p_role IS NULL OR p_workspace_id IS NULL THEN
        RETURN campaigndb.envelope_error('23502', 'p_role and p_workspace_id are required');
    END IF;
    DELETE FROM campaigndb.tenant_logins AS t
     WHERE t.role_name = p_role AND t.workspace_id = p_workspace_id;
    GET DIAGNOSTICS v_removed = ROW_COUNT;
    RETURN campaigndb.envelope_ok(jsonb_build_object(
        'role', p_role, 'workspace_id', p_workspace_id, 'changed', v_removed > 0));
END
$function$;

REVOKE ALL ON FUNCTION public.unmap_tenant_login(name, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.unmap_tenant_login(name, uuid) TO campaigndb_admin;

-- source: sql/functions/rotate_token_secret.sql
-- rotate_token_secret: store a new HS256 secret for workspace tokens (at least 32 bytes of
-- UTF-8).  p_keep_previous keeps the secrets stored so far valid (rotation: tokens already
-- minted keep working until they expire; call again with false to retire them).
-- Only campaigndb_admin (and superusers) may execute it; nobody can read a secret back.
-- SQLSTATEs in the envelope: 23502, 22023 (shorter than 32 bytes).
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

-- source: sql/schema/71_tenancy_policies.sql
-- Row level security on the tenancy binding (revision 0007; docs/tenancy.md), forced on
-- every workspace table so that it holds for the owning role too (the SECURITY DEFINER
-- functions; superusers bypass RLS whatever it says).  campaigndb.caller_workspaces(false)
-- is NULL for an unnarrowed service session (every row) and otherwise the session's
-- workspaces (none for an unbound tenant); each (SELECT ...) is evaluated once per
-- statement, and the second only when the first is not NULL.
DO $rls$
DECLARE
    v_all   constant text := '(SELECT campaigndb.caller_workspaces(false)) IS NULL';
    v_mine  constant text := 'ANY ((SELECT campaigndb.caller_workspaces(false))::uuid[])';
    v_table text;
BEGIN
    FOREACH v_table IN ARRAY ARRAY['workspaces', 'campaigns', 'workspace_n8n_workflows',
                                   'n8n_campaign_executions', 'workflow_deployment_history',
                                   'collection_log']
    LOOP
        EXECUTE format('DROP POLICY workspace_isolation ON campaigndb.%I', v_table);
        EXECUTE format('CREATE POLICY workspace_isolation ON campaigndb.%I USING (%s OR %I = %s)',
                       v_table, v_all,
                       CASE v_table WHEN 'workspaces' THEN 'id' ELSE 'workspace_id' END, v_mine);
        EXECUTE format('ALTER TABLE campaigndb.%I FORCE ROW LEVEL SECURITY', v_table);
    END LOOP;
    FOREACH v_table IN ARRAY ARRAY['gmaps_campaign_coverage', 'gmaps_businesses',
                                   'gmaps_api_costs', 'daily_kpi_data', 'campaign_summaries',
                                   'transaction_metrics']
    LOOP
        EXECUTE format('DROP POLICY workspace_isolation ON campaigndb.%I', v_table);
        EXECUTE format(
            'CREATE POLICY workspace_isolation ON campaigndb.%I USING (%s OR campaign_id IN '
            '(SELECT c.id FROM campaigndb.campaigns AS c WHERE c.workspace_id = %s))',
            v_table, v_all, v_mine);
        EXECUTE format('ALTER TABLE campaigndb.%I FORCE ROW LEVEL SECURITY', v_table);
    END LOOP;
END
$rls$;
-- A new workspace is nobody's object yet (create_workspace is for service sessions only),
-- and a measurement may name no campaign (it is then visible to unnarrowed service only).
CREATE POLICY workspace_creation ON campaigndb.workspaces FOR INSERT WITH CHECK (true);
CREATE POLICY unattributed_metrics ON campaigndb.transaction_metrics FOR INSERT
    WITH CHECK (campaign_id IS NULL);

-- Tenants execute the workspace API; not create_workspace (a workspace is provisioned by a
-- service or admin), not get_database_health_metrics (cluster-wide figures).
GRANT EXECUTE ON FUNCTION
    public.create_campaign_with_coverage(jsonb, jsonb),
    public.track_campaign_cost(uuid, varchar, integer, numeric, jsonb, text),
    public.insert_businesses_batch(uuid, varchar, jsonb),
    public.update_campaign_statistics(uuid),
    public.update_coverage_status(uuid, varchar, integer, integer, numeric, text),
    public.update_email_verification(uuid, varchar, jsonb),
    public.update_enrichment_batch(varchar, jsonb),
    public.register_n8n_workflow(uuid, text, text, text, text),
    public.execute_campaign_atomically(uuid, uuid, uuid, text, text, jsonb, uuid),
    public.complete_campaign_execution(uuid, text, jsonb, text),
    public.record_transaction_metric(varchar, uuid, integer, boolean, text, integer, varchar, uuid),
    public.record_transaction_metrics(jsonb),
    public.upsert_daily_kpi_batch(jsonb, text, text),
    public.aggregate_monthly_kpis(date, uuid, text),
    public.get_businesses_for_enrichment(uuid, varchar, integer, integer, uuid),
    public.validate_campaign_execution_constraints(uuid, uuid, text),
    public.get_campaign_execution_metrics(uuid, timestamptz)
    TO campaigndb_tenant;
GRANT EXECUTE ON FUNCTION
    public.get_businesses_for_enrichment(uuid, varchar, integer, integer, uuid),
    public.validate_campaign_execution_constraints(uuid, uuid, text),
    public.get_campaign_execution_metrics(uuid, timestamptz)
    TO campaigndb_tenant_readonly;
