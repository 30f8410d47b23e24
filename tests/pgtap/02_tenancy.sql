-- 02_tenancy: the tenancy binding of revision 0007 (docs/tenancy.md), tried from SQL.
-- Tenant sessions are real: SET SESSION AUTHORIZATION changes session_user (only the
-- authenticated superuser running this file can do that, and undo it).
-- Everything runs in one transaction that is rolled back.
BEGIN;
\ir lib/helpers.psql
SELECT plan(34);

-- HS256 in SQL, for the test only: header.payload signed with p_secret
CREATE FUNCTION pg_temp.b64url(p bytea) RETURNS text LANGUAGE sql AS $$
    SELECT rtrim(translate(replace(encode(p, 'base64'), E'\n', ''), '+/', '-_'), '=') $$;
-- (mint_compact: the JSON texts as given, e.g. compact as JWT libraries write them)
CREATE FUNCTION pg_temp.mint_compact(p_secret text, p_claims text,
                                     p_header text DEFAULT '{"alg":"HS256","typ":"JWT"}')
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    v_key bytea := convert_to(p_secret, 'UTF8');
    v_in bytea; v_out bytea; v_signed text;
BEGIN
    v_key := v_key || decode(repeat('00', 64 - length(v_key)), 'hex');
    v_in := v_key; v_out := v_key;
    FOR i IN 0..63 LOOP
        v_in := set_byte(v_in, i, get_byte(v_key, i) # 54);
        v_out := set_byte(v_out, i, get_byte(v_key, i) # 92);
    END LOOP;
    v_signed := pg_temp.b64url(convert_to(p_header, 'UTF8')) || '.'
                || pg_temp.b64url(convert_to(p_claims, 'UTF8'));
    RETURN v_signed || '.' || pg_temp.b64url(sha256(v_out || sha256(v_in || convert_to(v_signed, 'UTF8'))));
END $$;
CREATE FUNCTION pg_temp.mint(p_secret text, p_claims jsonb,
                             p_header jsonb DEFAULT '{"alg": "HS256", "typ": "JWT"}')
RETURNS text LANGUAGE sql AS $$ SELECT pg_temp.mint_compact(p_secret, p_claims::text, p_header::text) $$;

CREATE TEMP TABLE w ON COMMIT DROP AS
SELECT (public.create_workspace('tenancy a') ->> 'workspace_id')::uuid AS a,
       (public.create_workspace('tenancy b') ->> 'workspace_id')::uuid AS b;
CREATE TEMP TABLE c ON COMMIT DROP AS
SELECT (public.create_campaign_with_coverage(jsonb_build_object('workspace_id', w.a, 'name', 'ca'),
                                             '["10001"]') ->> 'campaign_id')::uuid AS a,
       (public.create_campaign_with_coverage(jsonb_build_object('workspace_id', w.b, 'name', 'cb'),
                                             '["10001"]') ->> 'campaign_id')::uuid AS b
  FROM w;
SELECT ok((public.rotate_token_secret(repeat('k', 40)) ->> 'success')::boolean,
          'an admin (here a superuser) stores a token secret');
CREATE ROLE pgtap_tenant_a LOGIN IN ROLE campaigndb_tenant;
CREATE ROLE pgtap_gateway LOGIN IN ROLE campaigndb_tenant;
GRANT campaigndb_app TO pgtap_tenant_a;   -- also a service member: still a tenant
GRANT USAGE ON SCHEMA campaigndb TO pgtap_gateway;
GRANT SELECT ON ALL TABLES IN SCHEMA campaigndb TO pgtap_gateway;
SELECT public.map_tenant_login('pgtap_tenant_a', w.a) FROM w;
-- tokens, minted before any session switch (the temp functions stay usable)
CREATE TEMP TABLE t ON COMMIT DROP AS
SELECT pg_temp.mint(repeat('k', 40), jsonb_build_object('workspace_id', w.a, 'exp', 4102444800)) AS for_a,
       pg_temp.mint(repeat('z', 40), jsonb_build_object('workspace_id', w.b, 'exp', 4102444800)) AS other_secret,
       pg_temp.mint(repeat('k', 40), jsonb_build_object('workspace_id', w.b, 'exp', 1000)) AS expired,
       pg_temp.mint(repeat('k', 40), jsonb_build_object('workspace_id', w.b)) AS no_exp,
       pg_temp.mint(repeat('k', 40), jsonb_build_object('exp', 4102444800)) AS no_workspace,
       pg_temp.mint(repeat('k', 40), jsonb_build_object('workspace_id', w.b, 'exp', 4102444800,
                                                        'admin', true)) AS extra_claim,
       pg_temp.mint(repeat('k', 40), jsonb_build_object('workspace_id', w.b, 'exp', 4102444800),
                    '{"alg": "HS512"}') AS other_alg,
       pg_temp.b64url('{"alg":"none"}') || '.'
           || pg_temp.b64url(convert_to(jsonb_build_object('workspace_id', w.b, 'exp', 4102444800)::text, 'UTF8'))
           || '.' || repeat('A', 43) AS alg_none
  FROM w;
GRANT SELECT ON w, c, t TO PUBLIC;

-- ===========================================================================================
-- Catalog
-- ===========================================================================================
SELECT is(ARRAY(SELECT r.rolname::text FROM pg_catalog.pg_roles AS r
                 WHERE r.rolname IN ('campaigndb_tenant', 'campaigndb_tenant_readonly',
                                     'campaigndb_admin') AND NOT r.rolcanlogin ORDER BY 1),
          ARRAY['campaigndb_admin', 'campaigndb_tenant', 'campaigndb_tenant_readonly'],
          'the tenant, read-only tenant and admin roles exist, NOLOGIN');
SELECT is(ARRAY(SELECT c.relname::text FROM pg_catalog.pg_class AS c
                 WHERE c.relnamespace = 'campaigndb'::regnamespace AND c.relkind = 'r'
                   AND NOT c.relforcerowsecurity ORDER BY 1),
          ARRAY['error_codes', 'tenant_logins', 'token_secrets'],
          'row level security is forced on every workspace table');
SELECT is(ARRAY(SELECT p.proname || ' ' || r
                  FROM pg_catalog.pg_proc AS p,
                       unnest(ARRAY['campaigndb_app', 'campaigndb_readonly', 'campaigndb_tenant',
                                    'campaigndb_tenant_readonly', 'public']) AS r
                 WHERE p.proname IN ('map_tenant_login', 'unmap_tenant_login', 'rotate_token_secret')
                   AND has_function_privilege(r, p.oid, 'EXECUTE')),
          ARRAY[]::text[], 'only campaigndb_admin may execute the mapping and secret functions');
SELECT ok(has_function_privilege('campaigndb_admin', 'public.map_tenant_login(name, uuid)', 'EXECUTE'),
          'campaigndb_admin may map tenant logins');
SELECT ok(NOT has_table_privilege('campaigndb_tenant', 'campaigndb.token_secrets', 'SELECT'),
          'tenants cannot read the token secrets');

-- ===========================================================================================
-- Token verification
-- ===========================================================================================
SELECT is(campaigndb.token_workspaces(t.for_a), ARRAY[w.a], 'a valid token grants its workspace')
  FROM t, w;
SELECT throws_ok(format('SELECT campaigndb.token_workspaces(%L)', t.other_secret), '42501',
                 'workspace token refused: bad signature', 'another secret: refused') FROM t;
SELECT throws_ok(format('SELECT campaigndb.token_workspaces(%L)', t.expired), '42501',
                 'workspace token refused: expired', 'expired: refused') FROM t;
SELECT throws_ok(format('SELECT campaigndb.token_workspaces(%L)', t.no_exp), '42501',
                 'workspace token refused: exp is required', 'no exp: refused') FROM t;
SELECT throws_ok(format('SELECT campaigndb.token_workspaces(%L)', t.no_workspace), '42501',
                 'workspace token refused: a workspace_id or workspace_ids claim is required',
                 'no workspace claim: refused') FROM t;
SELECT throws_ok(format('SELECT campaigndb.token_workspaces(%L)', t.extra_claim), '42501',
                 'workspace token refused: unexpected claim', 'an extra claim: refused') FROM t;
SELECT throws_ok(format('SELECT campaigndb.token_workspaces(%L)', t.other_alg), '42501',
                 'workspace token refused: alg must be HS256', 'another alg: refused') FROM t;
SELECT throws_ok(format('SELECT campaigndb.token_workspaces(%L)', t.alg_none), '42501',
                 'workspace token refused: bad signature', 'alg none: refused') FROM t;
SELECT throws_ok($$SELECT campaigndb.token_workspaces('a.b.c')$$, '42501',
                 'workspace token refused: not a compact HS256 JWT', 'garbage: refused');

-- The usual token as JWT libraries write it (compact JSON): revision 0009's one-query path
SELECT is(campaigndb.token_workspaces(pg_temp.mint_compact(repeat('k', 40),
              format('{"exp":4102444800,"iat":1,"workspace_id":"%s"}', w.a))),
          ARRAY[w.a], 'the usual token (compact JSON) grants its workspace') FROM w;
SELECT is(campaigndb.token_workspaces(pg_temp.mint_compact(repeat('k', 40),
              format('{"workspace_id":"%s","exp":4102444800}', w.a), '{"typ":"JWT","alg":"HS256"}')),
          ARRAY[w.a], 'the usual token, header keys in the other order, grants its workspace') FROM w;
SELECT throws_ok(format('SELECT campaigndb.token_workspaces(%L)', pg_temp.mint_compact(repeat('k', 40),
                     format('{"exp":1000,"workspace_id":"%s"}', w.b))), '42501',
                 'workspace token refused: expired', 'the usual token, expired: refused') FROM w;
SELECT throws_ok(format('SELECT campaigndb.token_workspaces(%L)', pg_temp.mint_compact(repeat('z', 40),
                     format('{"exp":4102444800,"workspace_id":"%s"}', w.b))), '42501',
                 'workspace token refused: bad signature', 'the usual token, another secret: refused') FROM w;
SELECT throws_ok(format('SELECT campaigndb.token_workspaces(%L)', pg_temp.mint_compact(repeat('k', 40),
                     '{"exp":4102444800,"workspace_id":"not-a-uuid"}')), '42501',
                 'workspace token refused: workspace_id must be a uuid',
                 'the usual token, workspace_id not a uuid: refused');
SELECT throws_ok(format('SELECT campaigndb.token_workspaces(%L)',
                        overlay(tok PLACING 'A' FROM length(tok) - 43 FOR 1)), '42501',
                 'workspace token refused: not a compact HS256 JWT',
                 'the usual token with its last dot replaced: refused')
  FROM w, LATERAL (SELECT pg_temp.mint_compact(repeat('k', 40),
                       format('{"exp":4102444800,"workspace_id":"%s"}', w.a)) AS tok) AS m;

-- ===========================================================================================
-- A tenant of A, as its own login
-- ===========================================================================================
CREATE TEMP TABLE before ON COMMIT DROP AS SELECT pg_temp.db_state() AS s;
SET SESSION AUTHORIZATION pgtap_tenant_a;
SET ROLE campaigndb_app;
SELECT is(public.track_campaign_cost(c.b, 's', 1, 999, '{}') ->> 'error_code', '42501',
          'SET ROLE campaigndb_app leaves a tenant a tenant: B''s campaign refused') FROM c;
RESET ROLE;
SET campaigndb.workspace_id = 'ffffffff-ffff-ffff-ffff-ffffffffffff';
SELECT is(public.track_campaign_cost(c.b, 's', 1, 999, '{}') ->> 'error_code', '42501',
          'narrowed to a workspace outside its own: refused') FROM c;
RESET campaigndb.workspace_id;
SELECT is(public.track_campaign_cost(c.b, 's', 1, 999, '{}') ->> 'error_code', '42501',
          'B''s campaign: refused') FROM c;
SELECT is(public.get_campaign_execution_metrics(w.b) ->> 'error_code', '42501',
          'B''s execution metrics: refused') FROM w;
SELECT is(public.execute_campaign_atomically(w.b, gen_random_uuid(), NULL, 'x', 'email') ->> 'error_code',
          '42501', 'a launch in B: refused') FROM w;
RESET SESSION AUTHORIZATION;
SELECT is(pg_temp.db_state(), (SELECT s FROM before), 'the refused calls wrote nothing');

-- ===========================================================================================
-- A gateway login: unbound, then with tokens
-- ===========================================================================================
SET SESSION AUTHORIZATION pgtap_gateway;
SELECT is((SELECT count(*) FROM campaigndb.campaigns), 0::bigint,
          'an unbound tenant granted SELECT sees no rows');
SELECT set_config('campaigndb.token', t.for_a, true) FROM t;
SELECT is(ARRAY(SELECT id FROM campaigndb.campaigns), ARRAY[c.a],
          'with A''s token it sees A''s campaign only') FROM c;
SELECT is(public.track_campaign_cost(c.b, 's', 1, 999, '{}') ->> 'error_code', '42501',
          'A''s token on B''s campaign: refused') FROM c;
SELECT set_config('campaigndb.token', t.other_secret, true) FROM t;
SELECT is(public.track_campaign_cost(c.b, 's', 1, 999, '{}') ->> 'error_code', '42501',
          'a token of another secret: refused') FROM c;
RESET SESSION AUTHORIZATION;

-- session_kind keeps its query's plan for the session (revision 0010), never its answer:
-- a membership granted or revoked counts from the next call, in the same session.
CREATE ROLE pgtap_switch LOGIN IN ROLE campaigndb_app;
CREATE FUNCTION pg_temp.kind() RETURNS text LANGUAGE sql SECURITY DEFINER
    AS 'SELECT campaigndb.session_kind()';
SET SESSION AUTHORIZATION pgtap_switch;
SELECT is(pg_temp.kind(), 'service', 'session_kind: a member of campaigndb_app is service');
RESET SESSION AUTHORIZATION;
GRANT campaigndb_tenant TO pgtap_switch;
SET SESSION AUTHORIZATION pgtap_switch;
SELECT is(pg_temp.kind(), 'tenant', 'session_kind: granted a tenant role, the same session is a tenant');
RESET SESSION AUTHORIZATION;
REVOKE campaigndb_tenant, campaigndb_app FROM pgtap_switch;
SET SESSION AUTHORIZATION pgtap_switch;
SELECT is(pg_temp.kind(), NULL, 'session_kind: with both revoked, neither');
RESET SESSION AUTHORIZATION;

SELECT * FROM finish();
ROLLBACK;
