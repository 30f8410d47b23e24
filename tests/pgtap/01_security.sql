-- 01_security: docs/contract.md section 4, read from the catalog of a database built by
-- `alembic upgrade head`: pinned search_path of every SECURITY DEFINER function, FORCE row
-- level security on the audit trail, no table or sequence privilege for the roles, no
-- EXECUTE for PUBLIC on any of the project's functions.
-- Everything runs in one transaction that is rolled back.
BEGIN;
SELECT plan(15);

-- The project's functions: every SECURITY DEFINER function of schemas public and campaigndb
-- (the API) and every function of schema campaigndb (internal helpers, the trigger).
-- pgTAP installs its own functions into public (none SECURITY DEFINER); extension members
-- are left out in any case.
CREATE TEMP TABLE project_functions ON COMMIT DROP AS
SELECT p.oid, p.oid::regprocedure::text AS signature, n.nspname::text AS schema_name,
       p.prosecdef, p.provolatile, p.proconfig
  FROM pg_catalog.pg_proc AS p
  JOIN pg_catalog.pg_namespace AS n ON n.oid = p.pronamespace
 WHERE n.nspname IN ('public', 'campaigndb')
   AND (p.prosecdef OR p.pronamespace = 'campaigndb'::regnamespace)
   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend AS d
                    WHERE d.classid = 'pg_catalog.pg_proc'::regclass AND d.objid = p.oid
                      AND d.deptype = 'e');

SELECT ok((SELECT count(*) FROM project_functions WHERE prosecdef AND schema_name = 'public') >= 15,
          'the project''s SECURITY DEFINER API functions are found in public (at least the 15 '
          'of the contract deployed so far: the checks below are not vacuous)');
SELECT ok((SELECT count(*) FROM project_functions WHERE schema_name = 'campaigndb') >= 1,
          'the project''s internal functions are found in campaigndb');

-- ===========================================================================================
-- SECURITY DEFINER functions pin search_path = 'pg_catalog, pg_temp'
-- ===========================================================================================
SELECT is(ARRAY(SELECT f.signature || ': ' || COALESCE(array_to_string(f.proconfig, '; '), 'no settings')
                  FROM project_functions AS f
                 WHERE f.prosecdef
                   AND NOT ('search_path=pg_catalog, pg_temp' = ANY (COALESCE(f.proconfig, '{}')))
                 ORDER BY 1),
          ARRAY[]::text[],
          'every SECURITY DEFINER function in public and campaigndb has search_path = '
          '''pg_catalog, pg_temp'' in its definition');
SELECT is(ARRAY(SELECT f.signature FROM project_functions AS f
                 WHERE f.prosecdef
                   AND (SELECT count(*) FROM unnest(f.proconfig) AS c
                         WHERE c LIKE 'search_path=%') <> 1
                 ORDER BY 1),
          ARRAY[]::text[],
          'every SECURITY DEFINER function sets search_path exactly once');
-- ===========================================================================================
-- Row level security FORCED on the audit trail
-- ===========================================================================================
SELECT is((SELECT c.relrowsecurity FROM pg_catalog.pg_class AS c
            WHERE c.oid = 'campaigndb.workflow_deployment_history'::regclass),
          true, 'row level security is enabled on campaigndb.workflow_deployment_history');
SELECT is((SELECT c.relforcerowsecurity FROM pg_catalog.pg_class AS c
            WHERE c.oid = 'campaigndb.workflow_deployment_history'::regclass),
          true, 'row level security is FORCED on campaigndb.workflow_deployment_history '
                '(the owning role, and so the SECURITY DEFINER functions, are subject to it)');
SELECT ok(EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p
                   WHERE p.polrelid = 'campaigndb.workflow_deployment_history'::regclass),
          'campaigndb.workflow_deployment_history has a policy');

-- ===========================================================================================
-- The roles hold no privilege on any table, column or sequence of schema campaigndb
-- ===========================================================================================
SELECT ok((SELECT count(*) FROM pg_catalog.pg_class AS c
            WHERE c.relnamespace = 'campaigndb'::regnamespace AND c.relkind = 'S') >= 1,
          'schema campaigndb has sequences to check');
\ir lib/no_table_privileges.psql
SELECT is(ARRAY(SELECT r.rolname::text FROM pg_catalog.pg_roles AS r
                 WHERE r.rolname IN ('campaigndb_app', 'campaigndb_readonly')
                   AND (r.rolsuper OR r.rolbypassrls OR r.rolcreaterole OR r.rolcreatedb)
                 ORDER BY 1),
          ARRAY[]::text[],
          'campaigndb_app and campaigndb_readonly are neither superuser nor BYPASSRLS, '
          'CREATEROLE or CREATEDB');

-- ===========================================================================================
-- EXECUTE: never PUBLIC; internal helpers for nobody; campaigndb_readonly only read functions
-- ===========================================================================================
\ir lib/no_execute.psql
SELECT is(ARRAY(SELECT f.signature FROM project_functions AS f
                 WHERE f.provolatile = 'v'
                   AND has_function_privilege('campaigndb_readonly', f.oid, 'EXECUTE')
                 ORDER BY 1),
          ARRAY[]::text[],
          'campaigndb_readonly may EXECUTE no VOLATILE (writing) function');
SELECT is(ARRAY(SELECT f.signature FROM project_functions AS f
                 WHERE f.schema_name = 'public'
                   -- the tenancy admin functions are campaigndb_admin's (docs/tenancy.md)
                   AND f.oid NOT IN ('public.map_tenant_login(name, uuid)'::regprocedure,
                                     'public.unmap_tenant_login(name, uuid)'::regprocedure,
                                     'public.rotate_token_secret(text, boolean)'::regprocedure)
                   AND NOT has_function_privilege('campaigndb_app', f.oid, 'EXECUTE')
                 ORDER BY 1),
          ARRAY[]::text[],
          'campaigndb_app may EXECUTE every API function in public');
SELECT is(ARRAY(SELECT f.signature FROM project_functions AS f
                 WHERE f.schema_name = 'public'
                   AND f.signature IN ('validate_campaign_execution_constraints(uuid,uuid,text)',
                                       'get_campaign_execution_metrics(uuid,timestamp with time zone)',
                                       'get_database_health_metrics()')
                   AND has_function_privilege('campaigndb_readonly', f.oid, 'EXECUTE')
                 ORDER BY 1),
          ARRAY['get_campaign_execution_metrics(uuid,timestamp with time zone)',
                'get_database_health_metrics()',
                'validate_campaign_execution_constraints(uuid,uuid,text)'],
          'campaigndb_readonly may EXECUTE the execution read functions');

SELECT * FROM finish();
ROLLBACK;
