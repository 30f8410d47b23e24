-- 00_schema: the schema, roles, privileges and the SQLSTATE table of docs/contract.md
-- sections 1, 2 and 4, read from the catalog of a database built by `alembic upgrade head`.
-- Everything runs in one transaction that is rolled back.
BEGIN;
SELECT plan(144);

-- Helper (dropped with the transaction): does a unique index or constraint cover exactly
-- these key columns (in any order; partial and expression indexes do not count)?
CREATE FUNCTION pg_temp.has_unique_key(p_table regclass, p_columns text[])
RETURNS boolean
LANGUAGE sql
STABLE
AS $$
    SELECT EXISTS (
        SELECT 1
          FROM pg_catalog.pg_index AS i
         WHERE i.indrelid = p_table
           AND i.indisunique
           AND i.indpred IS NULL
           AND i.indexprs IS NULL
           AND (SELECT array_agg(a.attname::text ORDER BY a.attname::text)
                  FROM unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
                  JOIN pg_catalog.pg_attribute AS a
                    ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                 WHERE k.ord <= i.indnkeyatts)
               = (SELECT array_agg(c ORDER BY c) FROM unnest(p_columns) AS c))
$$;

-- ===========================================================================================
-- Tables of docs/contract.md section 2 (12 tables)
-- ===========================================================================================
SELECT has_schema('campaigndb', 'schema campaigndb exists');

SELECT has_table('campaigndb', t, format('table campaigndb.%I exists', t))
  FROM unnest(ARRAY['workspaces', 'campaigns', 'gmaps_campaign_coverage', 'gmaps_businesses',
                    'gmaps_api_costs', 'workspace_n8n_workflows', 'n8n_campaign_executions',
                    'workflow_deployment_history', 'daily_kpi_data', 'campaign_summaries',
                    'collection_log', 'transaction_metrics']) WITH ORDINALITY AS x(t, ord)
 ORDER BY ord;

-- ===========================================================================================
-- Columns named by the contract (91 columns)
-- ===========================================================================================
SELECT has_column('campaigndb', v.t, v.c, format('column campaigndb.%I.%I exists', v.t, v.c))
  FROM (VALUES
    (1, 'workspaces', 'id'), (2, 'workspaces', 'name'),

    (10, 'campaigns', 'id'), (11, 'campaigns', 'workspace_id'), (12, 'campaigns', 'name'),
    (13, 'campaigns', 'status'), (14, 'campaigns', 'total_cost'),
    (15, 'campaigns', 'total_businesses'), (16, 'campaigns', 'total_emails'),
    (17, 'campaigns', 'total_facebook_pages'), (18, 'campaigns', 'total_linkedin_profiles'),

    (20, 'gmaps_campaign_coverage', 'campaign_id'), (21, 'gmaps_campaign_coverage', 'zip_code'),
    (22, 'gmaps_campaign_coverage', 'status'), (23, 'gmaps_campaign_coverage', 'businesses_found'),
    (24, 'gmaps_campaign_coverage', 'emails_found'), (25, 'gmaps_campaign_coverage', 'estimated_cost'),
    (26, 'gmaps_campaign_coverage', 'actual_cost'), (27, 'gmaps_campaign_coverage', 'scraped_at'),

    (30, 'gmaps_businesses', 'id'), (31, 'gmaps_businesses', 'campaign_id'),
    (32, 'gmaps_businesses', 'zip_code'), (33, 'gmaps_businesses', 'place_id'),
    (34, 'gmaps_businesses', 'name'), (35, 'gmaps_businesses', 'email'),
    (36, 'gmaps_businesses', 'facebook_url'), (37, 'gmaps_businesses', 'linkedin_url'),
    (38, 'gmaps_businesses', 'email_verification_status'),

    (40, 'gmaps_api_costs', 'id'), (41, 'gmaps_api_costs', 'campaign_id'),
    (42, 'gmaps_api_costs', 'service'), (43, 'gmaps_api_costs', 'items_processed'),
    (44, 'gmaps_api_costs', 'cost_usd'), (45, 'gmaps_api_costs', 'metadata'),
    (46, 'gmaps_api_costs', 'created_at'),

    (50, 'workspace_n8n_workflows', 'id'), (51, 'workspace_n8n_workflows', 'workspace_id'),
    (52, 'workspace_n8n_workflows', 'n8n_workflow_id'), (53, 'workspace_n8n_workflows', 'name'),
    (54, 'workspace_n8n_workflows', 'campaign_type'),
    (55, 'workspace_n8n_workflows', 'deployment_status'),
    (56, 'workspace_n8n_workflows', 'total_executions'),
    (57, 'workspace_n8n_workflows', 'last_executed_at'),

    (60, 'n8n_campaign_executions', 'id'), (61, 'n8n_campaign_executions', 'workspace_id'),
    (62, 'n8n_campaign_executions', 'workspace_n8n_workflow_id'),
    (63, 'n8n_campaign_executions', 'campaign_approval_session_id'),
    (64, 'n8n_campaign_executions', 'campaign_name'),
    (65, 'n8n_campaign_executions', 'campaign_type'),
    (66, 'n8n_campaign_executions', 'execution_status'),
    (67, 'n8n_campaign_executions', 'execution_config'),
    (68, 'n8n_campaign_executions', 'started_at'), (69, 'n8n_campaign_executions', 'completed_at'),
    (70, 'n8n_campaign_executions', 'duration_ms'),
    (71, 'n8n_campaign_executions', 'error_message'),
    (72, 'n8n_campaign_executions', 'created_at'),

    (80, 'workflow_deployment_history', 'id'), (81, 'workflow_deployment_history', 'workspace_id'),
    (82, 'workflow_deployment_history', 'workflow_id'),
    (83, 'workflow_deployment_history', 'execution_id'),
    (84, 'workflow_deployment_history', 'event_type'),
    (85, 'workflow_deployment_history', 'details'),
    (86, 'workflow_deployment_history', 'created_at'),

    (90, 'daily_kpi_data', 'campaign_id'), (91, 'daily_kpi_data', 'kpi_date'),
    (92, 'daily_kpi_data', 'platform'), (93, 'daily_kpi_data', 'impressions'),
    (94, 'daily_kpi_data', 'clicks'), (95, 'daily_kpi_data', 'spend'),
    (96, 'daily_kpi_data', 'conversions'), (97, 'daily_kpi_data', 'revenue'),

    (100, 'campaign_summaries', 'campaign_id'), (101, 'campaign_summaries', 'period_type'),
    (102, 'campaign_summaries', 'period_start'),

    (110, 'collection_log', 'id'), (111, 'collection_log', 'job'),
    (112, 'collection_log', 'period'), (113, 'collection_log', 'status'),
    (114, 'collection_log', 'rows_affected'), (115, 'collection_log', 'started_at'),
    (116, 'collection_log', 'finished_at'), (117, 'collection_log', 'error'),

    (120, 'transaction_metrics', 'id'), (121, 'transaction_metrics', 'operation_name'),
    (122, 'transaction_metrics', 'campaign_id'), (123, 'transaction_metrics', 'duration_ms'),
    (124, 'transaction_metrics', 'success'), (125, 'transaction_metrics', 'error_message'),
    (126, 'transaction_metrics', 'retry_count'), (127, 'transaction_metrics', 'isolation_level'),
    (128, 'transaction_metrics', 'created_at')
  ) AS v(ord, t, c)
 ORDER BY v.ord;

-- ===========================================================================================
-- Column types and keys the contract spells out
-- ===========================================================================================
SELECT col_type_is('campaigndb', 'workspaces', 'id', 'uuid', 'workspaces.id is a uuid');
SELECT col_is_pk('campaigndb', 'workspaces', 'id', 'workspaces.id is the primary key');
SELECT col_type_is('campaigndb', 'campaigns', 'id', 'uuid', 'campaigns.id is a uuid');
SELECT col_is_pk('campaigndb', 'campaigns', 'id', 'campaigns.id is the primary key');
SELECT col_type_is('campaigndb', 'campaigns', 'total_cost', 'numeric(18,6)',
                   'campaigns.total_cost is numeric(18,6): micro-dollars (docs/limits.md)');
SELECT col_type_is('campaigndb', 'gmaps_businesses', 'id', 'uuid', 'gmaps_businesses.id is a uuid');
SELECT col_type_is('campaigndb', 'gmaps_api_costs', 'id', 'uuid', 'gmaps_api_costs.id is a uuid');

-- ===========================================================================================
-- Unique keys of the contract
-- ===========================================================================================
SELECT ok(pg_temp.has_unique_key('campaigndb.gmaps_campaign_coverage',
                                 ARRAY['campaign_id', 'zip_code']),
          'gmaps_campaign_coverage is unique on (campaign_id, zip_code)');
SELECT ok(pg_temp.has_unique_key('campaigndb.gmaps_businesses', ARRAY['campaign_id', 'place_id']),
          'gmaps_businesses is unique on (campaign_id, place_id)');
SELECT ok(pg_temp.has_unique_key('campaigndb.daily_kpi_data',
                                 ARRAY['campaign_id', 'kpi_date', 'platform']),
          'daily_kpi_data is unique on (campaign_id, kpi_date, platform)');
SELECT ok(pg_temp.has_unique_key('campaigndb.campaign_summaries',
                                 ARRAY['campaign_id', 'period_type', 'period_start']),
          'campaign_summaries is unique on (campaign_id, period_type, period_start)');

-- ===========================================================================================
-- Row level security: enabled on every table of schema campaigndb, with a policy each
-- ===========================================================================================
SELECT is(ARRAY(SELECT c.relname::text
                  FROM pg_catalog.pg_class AS c
                 WHERE c.relnamespace = 'campaigndb'::regnamespace
                   AND c.relkind IN ('r', 'p')
                   AND NOT c.relrowsecurity
                 ORDER BY 1),
          ARRAY[]::text[],
          'row level security is enabled on every table of schema campaigndb');

SELECT is(ARRAY(SELECT c.relname::text
                  FROM pg_catalog.pg_class AS c
                 WHERE c.relnamespace = 'campaigndb'::regnamespace
                   AND c.relkind IN ('r', 'p')
                   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p
                                    WHERE p.polrelid = c.oid)
                 ORDER BY 1),
          ARRAY[]::text[],
          'every table of schema campaigndb has at least one policy');

-- ===========================================================================================
-- Roles of docs/contract.md section 4
-- ===========================================================================================
SELECT has_role('campaigndb_app', 'role campaigndb_app exists');
SELECT has_role('campaigndb_readonly', 'role campaigndb_readonly exists');
SELECT is((SELECT r.rolcanlogin FROM pg_catalog.pg_roles AS r WHERE r.rolname = 'campaigndb_app'),
          false, 'campaigndb_app is NOLOGIN');
SELECT is((SELECT r.rolcanlogin FROM pg_catalog.pg_roles AS r
            WHERE r.rolname = 'campaigndb_readonly'),
          false, 'campaigndb_readonly is NOLOGIN');

-- ===========================================================================================
-- Table and schema privileges: the roles reach data only through the functions
-- ===========================================================================================
\ir lib/no_table_privileges.psql

SELECT is(ARRAY(SELECT c.relname::text
                  FROM pg_catalog.pg_class AS c
                 WHERE c.relnamespace = 'campaigndb'::regnamespace
                   AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
                   AND has_table_privilege('public', c.oid,
                           'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')
                 ORDER BY 1),
          ARRAY[]::text[],
          'PUBLIC holds no privilege on any table of schema campaigndb');

SELECT is(has_schema_privilege('campaigndb_app', 'campaigndb', 'USAGE'), false,
          'campaigndb_app has no USAGE on schema campaigndb');
SELECT is(has_schema_privilege('campaigndb_app', 'campaigndb', 'CREATE'), false,
          'campaigndb_app has no CREATE on schema campaigndb');
SELECT is(has_schema_privilege('campaigndb_readonly', 'campaigndb', 'USAGE'), false,
          'campaigndb_readonly has no USAGE on schema campaigndb');
SELECT is(has_schema_privilege('public', 'campaigndb', 'USAGE'), false,
          'PUBLIC has no USAGE on schema campaigndb');

-- ===========================================================================================
-- Function privileges: no EXECUTE for PUBLIC on any of the project's functions
-- (pgTAP installs its own functions into public; only the names below are the project's)
-- ===========================================================================================
CREATE TEMP TABLE project_functions ON COMMIT DROP AS
SELECT p.oid, p.oid::regprocedure::text AS signature, n.nspname::text AS schema_name,
       p.prosecdef, p.proconfig
  FROM pg_catalog.pg_proc AS p
  JOIN pg_catalog.pg_namespace AS n ON n.oid = p.pronamespace
 WHERE p.proowner = (SELECT s.nspowner FROM pg_catalog.pg_namespace AS s
                      WHERE s.nspname = 'campaigndb')
   AND (n.nspname = 'campaigndb'
        OR (n.nspname = 'public'
            AND p.proname = ANY (ARRAY[
                -- docs/contract.md section 3: every API function, present or to come
                'create_workspace', 'create_campaign_with_coverage', 'insert_businesses_batch',
                'update_campaign_statistics', 'track_campaign_cost', 'update_coverage_status',
                'update_enrichment_batch', 'update_email_verification',
                'get_businesses_for_enrichment', 'register_n8n_workflow',
                'execute_campaign_atomically', 'complete_campaign_execution',
                'validate_campaign_execution_constraints', 'get_campaign_execution_metrics',
                'get_database_health_metrics', 'upsert_daily_kpi_batch',
                'aggregate_monthly_kpis', 'record_transaction_metric'])));

SELECT ok((SELECT count(*) FROM project_functions WHERE schema_name = 'public') >= 3,
          'the project''s API functions are found in schema public (the checks below are not vacuous)');

\ir lib/no_execute.psql

-- ===========================================================================================
-- SECURITY DEFINER functions pin search_path = pg_catalog, ..., pg_temp
-- ===========================================================================================
SELECT ok((SELECT count(*) FROM project_functions WHERE prosecdef) >= 3,
          'there are SECURITY DEFINER functions to check');

SELECT is(ARRAY(SELECT p.oid::regprocedure::text
                  FROM pg_catalog.pg_proc AS p
                 WHERE p.pronamespace IN ('public'::regnamespace, 'campaigndb'::regnamespace)
                   AND p.prosecdef
                   AND NOT EXISTS (
                       SELECT 1 FROM unnest(p.proconfig) AS c
                        WHERE c ~ '^search_path="?pg_catalog"?(\s*,\s*[^,]+)*\s*,\s*"?pg_temp"?$')
                 ORDER BY 1),
          ARRAY[]::text[],
          'every SECURITY DEFINER function in public and campaigndb pins search_path, '
          'starting with pg_catalog and ending with pg_temp');

-- ===========================================================================================
-- The SQLSTATE table (docs/contract.md section 1), shared by SQL and the Python client
-- ===========================================================================================
SELECT has_table('campaigndb', 'error_codes', 'table campaigndb.error_codes exists');

SELECT set_eq(
    $$SELECT e.sqlstate::text, e.retry_recommended
        FROM campaigndb.error_codes AS e WHERE e.raised_in <> 'client'$$,
    $$VALUES ('22023', false), ('22P02', false), ('22003', false), ('22007', false),
             ('23502', false), ('23503', false), ('23505', false), ('23514', false),
             ('P0002', false), ('55000', false), ('54000', false), ('42501', false),
             ('40001', true),  ('40P01', true),  ('55P03', true),  ('57014', true),
             -- beyond the contract's table (revision 0005): JSON nested to the stack limit
             ('54001', false)$$,
    'error_codes (other than client-side rows) holds exactly the SQLSTATEs of the contract''s '
    'table, with its retry_recommended');

SELECT set_eq(
    $$SELECT e.sqlstate::text FROM campaigndb.error_codes AS e
       WHERE e.raised_in = 'client' AND e.sqlstate NOT LIKE '08%'$$,
    $$VALUES ('53300'), ('57P01'), ('57P02'), ('57P03')$$,
    'client-side rows outside class 08 are exactly 53300, 57P01, 57P02, 57P03');

SELECT is(ARRAY(SELECT e.sqlstate::text FROM campaigndb.error_codes AS e
                 WHERE e.raised_in = 'client'
                   AND (NOT e.retry_recommended
                        OR NOT (e.sqlstate LIKE '08%'
                                OR e.sqlstate IN ('53300', '57P01', '57P02', '57P03')))
                 ORDER BY 1),
          ARRAY[]::text[],
          'client-side rows are connection-level SQLSTATEs (class 08, 53300, 57P0x), all retryable');

SELECT is(ARRAY(SELECT e.sqlstate::text FROM campaigndb.error_codes AS e
                 WHERE (campaigndb.envelope_error(e.sqlstate, 'message')
                        -> 'retry_recommended') <> to_jsonb(e.retry_recommended)
                 ORDER BY 1),
          ARRAY[]::text[],
          'the envelope helper takes retry_recommended from error_codes for every SQLSTATE');

SELECT is(campaigndb.envelope_error('XX000', 'internal') -> 'retry_recommended', 'false'::jsonb,
          'an SQLSTATE missing from error_codes is not retried');

-- ===========================================================================================
-- Row level security in action: a role with SELECT sees only the bound workspace
-- (last in this file: the grants below are rolled back with the transaction, and would
-- otherwise show up in the privilege checks above)
-- ===========================================================================================
DO $setup$
DECLARE
    v_envelope jsonb;
BEGIN
    FOREACH v_envelope IN ARRAY ARRAY[
        create_workspace('RLS workspace A', 'a0000000-0000-4000-8000-00000000000a'),
        create_workspace('RLS workspace B', 'b0000000-0000-4000-8000-00000000000b'),
        create_campaign_with_coverage(
            '{"id": "a1000000-0000-4000-8000-00000000000a", "name": "RLS campaign A",
              "workspace_id": "a0000000-0000-4000-8000-00000000000a"}', '["10001", "10002"]'),
        create_campaign_with_coverage(
            '{"id": "b1000000-0000-4000-8000-00000000000b", "name": "RLS campaign B",
              "workspace_id": "b0000000-0000-4000-8000-00000000000b"}', '["20001"]')]
    LOOP
        IF NOT (v_envelope ->> 'success')::boolean THEN
            RAISE EXCEPTION 'test setup failed: %', v_envelope;
        END IF;
    END LOOP;
END
$setup$;
GRANT USAGE ON SCHEMA campaigndb TO campaigndb_readonly;
GRANT SELECT ON campaigndb.workspaces, campaigndb.campaigns, campaigndb.gmaps_campaign_coverage
   TO campaigndb_readonly;
-- row level security calls campaigndb.caller_workspaces as the reader (revision 0007)
GRANT EXECUTE ON FUNCTION campaigndb.caller_workspaces(boolean) TO campaigndb_readonly;

DO $do$
BEGIN
    SET LOCAL ROLE campaigndb_readonly;
    SET LOCAL campaigndb.workspace_id = 'a0000000-0000-4000-8000-00000000000a';
    PERFORM set_config('campaigndb_test.bound_view', jsonb_build_object(
        'workspaces', (SELECT array_agg(w.name ORDER BY w.name) FROM campaigndb.workspaces AS w),
        'campaigns', (SELECT array_agg(c.name ORDER BY c.name) FROM campaigndb.campaigns AS c),
        'zips', (SELECT array_agg(g.zip_code ORDER BY g.zip_code)
                   FROM campaigndb.gmaps_campaign_coverage AS g))::text, true);
    RESET campaigndb.workspace_id;
    PERFORM set_config('campaigndb_test.unbound_view',
        (SELECT to_jsonb(array_agg(w.name ORDER BY w.name))
           FROM campaigndb.workspaces AS w WHERE w.name LIKE 'RLS %')::text, true);
    RESET ROLE;
END
$do$;

SELECT is(current_setting('campaigndb_test.bound_view')::jsonb -> 'workspaces',
          '["RLS workspace A"]'::jsonb,
          'RLS: bound to workspace A, a reader sees only workspace A');
SELECT is(current_setting('campaigndb_test.bound_view')::jsonb -> 'campaigns',
          '["RLS campaign A"]'::jsonb,
          'RLS: bound to workspace A, a reader sees only the campaigns of workspace A');
SELECT is(current_setting('campaigndb_test.bound_view')::jsonb -> 'zips',
          '["10001", "10002"]'::jsonb,
          'RLS: bound to workspace A, a reader sees only the coverage of workspace A''s campaigns');
SELECT is(current_setting('campaigndb_test.unbound_view')::jsonb,
          '["RLS workspace A", "RLS workspace B"]'::jsonb,
          'RLS: unbound (campaigndb.workspace_id reset), the same reader sees both workspaces');

-- transaction_metrics is written once per call: its indexes are the primary key, campaign_id
-- and a BRIN index on created_at (revision 0006 replaced the (operation_name, created_at)
-- b-tree, a fifth of a metrics flush's time)
SELECT indexes_are('campaigndb', 'transaction_metrics',
                   ARRAY['transaction_metrics_pkey', 'transaction_metrics_campaign_idx',
                         'transaction_metrics_created_at_idx'],
                   'transaction_metrics has exactly its three indexes');
SELECT index_is_type('campaigndb', 'transaction_metrics', 'transaction_metrics_created_at_idx',
                     'brin', 'transaction_metrics.created_at is indexed by BRIN');

SELECT * FROM finish();
ROLLBACK;
