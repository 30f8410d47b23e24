-- track_campaign_cost(p_campaign_id uuid, p_service varchar, p_items_processed integer,
--                     p_cost_usd numeric, p_metadata jsonb, p_idempotency_key text DEFAULT NULL)
--   -> jsonb
-- docs/contract.md section 3: one cost row plus the campaign total, atomically; returns cost_id
-- and new_total_cost; p_cost_usd >= 0; p_idempotency_key: same key and parameters replay,
-- same key and other parameters 23505; declares SERIALIZABLE in its own definition.
-- Runs in one transaction that is rolled back.
BEGIN;
SELECT plan(96);

-- Shared test helpers (pg_temp functions, gone with the session)
\ir lib/helpers.psql

-- ===========================================================================================
-- Definition: signature, return type, volatility, SECURITY DEFINER, pinned settings
-- ===========================================================================================
SELECT * FROM pg_temp.definition(
    'track_campaign_cost', ARRAY['uuid', 'character varying', 'integer', 'numeric', 'jsonb', 'text'], 'jsonb', 'volatile');
SELECT ok(EXISTS (SELECT 1 FROM unnest((SELECT p.proconfig FROM pg_catalog.pg_proc AS p
                                        WHERE p.oid = 'public.track_campaign_cost(uuid, varchar, integer, numeric, jsonb, text)'::regprocedure)) AS c
                   WHERE c ~ '^search_path="?pg_catalog"?(\s*,\s*[^,]+)*\s*,\s*"?pg_temp"?$'),
          'track_campaign_cost pins search_path to pg_catalog, ..., pg_temp');
SELECT ok(EXISTS (SELECT 1 FROM unnest((SELECT p.proconfig FROM pg_catalog.pg_proc AS p
                                        WHERE p.oid = 'public.track_campaign_cost(uuid, varchar, integer, numeric, jsonb, text)'::regprocedure)) AS c
                   WHERE c = 'default_transaction_isolation=serializable'),
          'track_campaign_cost declares default_transaction_isolation = serializable');

-- ===========================================================================================
-- Privileges: campaigndb_app may EXECUTE; PUBLIC and campaigndb_readonly may not
-- ===========================================================================================
SELECT * FROM pg_temp.execute_privileges(
    'track_campaign_cost', ARRAY['uuid', 'character varying', 'integer', 'numeric', 'jsonb', 'text'], false);

-- ===========================================================================================
-- Setup: workspace A with campaigns A1 and A2, workspace B with campaign B1
-- ===========================================================================================
\ir lib/workspaces.psql
\set a1_zips '["10001"]'
\set a2_zips '["10002"]'
\ir lib/campaigns.psql

DO $do$
BEGIN
    SET LOCAL ROLE campaigndb_app;
    PERFORM set_config('campaigndb_test.as_app', track_campaign_cost(
        'a2a2a2a2-0000-4000-8000-000000000002', 'apify', 1, 0.5, '{}')::text, true);
    RESET ROLE;
END
$do$;
SELECT is(pg_temp.envelope_shape(current_setting('campaigndb_test.as_app')::jsonb),
          pg_temp.success_shape(),
          'campaigndb_app, which holds no table privilege, records a cost through the function');

SELECT throws_ok(
    $$DO $do$ BEGIN
          SET LOCAL ROLE campaigndb_readonly;
          PERFORM track_campaign_cost('a2a2a2a2-0000-4000-8000-000000000002', 'apify', 1, 0.5, '{}');
      END $do$
    $$,
    '42501', NULL,
    'campaigndb_readonly is refused EXECUTE on track_campaign_cost (42501)');

-- ===========================================================================================
-- Happy path: one cost
-- ===========================================================================================
CALL pg_temp.call('first cost', $$
    SELECT track_campaign_cost(p_campaign_id => 'a1a1a1a1-0000-4000-8000-000000000001',
                               p_service => 'google_places', p_items_processed => 120,
                               p_cost_usd => 1.25, p_metadata => '{"run": "r-1"}')
$$);

SELECT is(pg_temp.envelope_shape(pg_temp.envelope('first cost')), pg_temp.success_shape(),
          'first cost: success envelope with success, error, error_code, retry_recommended');
SELECT ok(pg_temp.envelope('first cost') ->> 'cost_id'
              ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$',
          'first cost: cost_id is a uuid');
SELECT is((pg_temp.envelope('first cost') ->> 'new_total_cost')::numeric, 1.25,
          'first cost: new_total_cost is 1.25');
SELECT is(pg_temp.envelope('first cost') -> 'replayed', 'false'::jsonb,
          'first cost: replayed is false');
SELECT is((SELECT jsonb_build_object('campaign_id', k.campaign_id, 'service', k.service,
                                     'items_processed', k.items_processed,
                                     'cost_usd', k.cost_usd, 'metadata', k.metadata)
             FROM campaigndb.gmaps_api_costs AS k
            WHERE k.id = (pg_temp.envelope('first cost') ->> 'cost_id')::uuid),
          '{"campaign_id": "a1a1a1a1-0000-4000-8000-000000000001", "service": "google_places",
            "items_processed": 120, "cost_usd": 1.25, "metadata": {"run": "r-1"}}'::jsonb,
          'first cost: the cost row holds the call''s values');
SELECT is((SELECT c.total_cost FROM campaigndb.campaigns AS c
            WHERE c.id = 'a1a1a1a1-0000-4000-8000-000000000001'),
          1.25::numeric, 'first cost: campaigns.total_cost is 1.25');
SELECT is(pg_temp.rows_added('first cost'), '{"gmaps_api_costs": 1}'::jsonb,
          'first cost: exactly one cost row added');

-- ===========================================================================================
-- Several calls: the total is the sum of the cost rows
-- ===========================================================================================
CALL pg_temp.call('second cost', $$
    SELECT track_campaign_cost('a1a1a1a1-0000-4000-8000-000000000001', 'apify', 10, 0.333333, '{}')
$$);
CALL pg_temp.call('free cost', $$
    SELECT track_campaign_cost('a1a1a1a1-0000-4000-8000-000000000001', 'cache', 0, 0, '{}')
$$);
CALL pg_temp.call('null metadata', $$
    SELECT track_campaign_cost('a1a1a1a1-0000-4000-8000-000000000001', 'hunter', 3, 2.5, NULL)
$$);

SELECT is((pg_temp.envelope('second cost') ->> 'new_total_cost')::numeric, 1.583333,
          'second cost: new_total_cost is the running total 1.583333');
SELECT is(pg_temp.envelope_shape(pg_temp.envelope('free cost')), pg_temp.success_shape(),
          'a cost of 0 is accepted');
SELECT is(pg_temp.envelope_shape(pg_temp.envelope('null metadata')), pg_temp.success_shape(),
          'p_metadata NULL is accepted');
SELECT is((SELECT k.metadata FROM campaigndb.gmaps_api_costs AS k
            WHERE k.id = (pg_temp.envelope('null metadata') ->> 'cost_id')::uuid),
          '{}'::jsonb, 'p_metadata NULL is stored as {}');
SELECT is((pg_temp.envelope('null metadata') ->> 'new_total_cost')::numeric, 4.083333,
          'after four costs new_total_cost is 4.083333');
SELECT is((SELECT c.total_cost FROM campaigndb.campaigns AS c
            WHERE c.id = 'a1a1a1a1-0000-4000-8000-000000000001'),
          (SELECT sum(k.cost_usd) FROM campaigndb.gmaps_api_costs AS k
            WHERE k.campaign_id = 'a1a1a1a1-0000-4000-8000-000000000001'),
          'campaign A1: total_cost equals the sum of its cost rows');
SELECT is((SELECT c.total_cost FROM campaigndb.campaigns AS c
            WHERE c.id = 'b1b1b1b1-0000-4000-8000-000000000001'),
          0::numeric, 'campaign B1, never charged, keeps total_cost 0');

-- ===========================================================================================
-- Idempotent replay: same key, same parameters
-- ===========================================================================================
CALL pg_temp.call('keyed cost', $$
    SELECT track_campaign_cost('a1a1a1a1-0000-4000-8000-000000000001', 'apify', 50, 0.75,
                               '{"run": "r-2"}', 'run-r-2')
$$);
CALL pg_temp.call('replay', $$
    SELECT track_campaign_cost(p_campaign_id => 'a1a1a1a1-0000-4000-8000-000000000001',
                               p_service => 'apify', p_items_processed => 50, p_cost_usd => 0.750,
                               p_metadata => '{"run": "r-2"}', p_idempotency_key => 'run-r-2')
$$);

SELECT is(pg_temp.envelope_shape(pg_temp.envelope('keyed cost')), pg_temp.success_shape(),
          'keyed cost: success');
SELECT is(pg_temp.envelope('replay') -> 'cost_id', pg_temp.envelope('keyed cost') -> 'cost_id',
          'replay: the first cost_id');
SELECT is(pg_temp.envelope('replay') -> 'replayed', 'true'::jsonb, 'replay: replayed is true');
SELECT is((pg_temp.envelope('replay') ->> 'new_total_cost')::numeric, 4.833333,
          'replay: new_total_cost is the unchanged total');
SELECT is(pg_temp.changes('replay'), '{}'::jsonb,
          'replay: nothing written (cost row count and campaign total unchanged)');

-- ===========================================================================================
-- Idempotency mismatch: same key, other parameters (23505)
-- ===========================================================================================
SELECT * FROM pg_temp.fails_with('same key, other cost', $$
    SELECT track_campaign_cost('a1a1a1a1-0000-4000-8000-000000000001', 'apify', 50, 0.76,
                               '{"run": "r-2"}', 'run-r-2')
$$, '23505');
-- keys are per campaign (revision 0007, docs/tenancy.md): another campaign, another key
CALL pg_temp.call('same key, other campaign', $$
    SELECT track_campaign_cost('a2a2a2a2-0000-4000-8000-000000000002', 'apify', 50, 0.75,
                               '{"run": "r-2"}', 'run-r-2')
$$);
SELECT is(pg_temp.envelope('same key, other campaign') ->> 'success', 'true',
          'same key, other campaign: a key of that campaign, recorded');
SELECT is(pg_temp.envelope('same key, other campaign') ->> 'replayed', 'false',
          'same key, other campaign: not a replay of the first campaign''s cost');
SELECT * FROM pg_temp.fails_with('same key, other metadata', $$
    SELECT track_campaign_cost('a1a1a1a1-0000-4000-8000-000000000001', 'apify', 50, 0.75,
                               '{"run": "r-3"}', 'run-r-2')
$$, '23505');

-- ===========================================================================================
-- Bad cost values (22023, 22003)
-- ===========================================================================================
SELECT * FROM pg_temp.fails_with('negative cost', $$
    SELECT track_campaign_cost('a1a1a1a1-0000-4000-8000-000000000001', 'apify', 1, -0.01, '{}')
$$, '22023');
SELECT * FROM pg_temp.fails_with('NaN cost', $$
    SELECT track_campaign_cost('a1a1a1a1-0000-4000-8000-000000000001', 'apify', 1, 'NaN', '{}')
$$, '22023');
SELECT * FROM pg_temp.fails_with('Infinity cost', $$
    SELECT track_campaign_cost('a1a1a1a1-0000-4000-8000-000000000001', 'apify', 1, 'Infinity', '{}')
$$, '22023');
SELECT * FROM pg_temp.fails_with('-Infinity cost', $$
    SELECT track_campaign_cost('a1a1a1a1-0000-4000-8000-000000000001', 'apify', 1, '-Infinity', '{}')
$$, '22023');
SELECT * FROM pg_temp.fails_with('cost of 1e12 (out of range)', $$
    SELECT track_campaign_cost('a1a1a1a1-0000-4000-8000-000000000001', 'apify', 1, 1e12, '{}')
$$, '22003');
SELECT * FROM pg_temp.fails_with('NULL cost', $$
    SELECT track_campaign_cost('a1a1a1a1-0000-4000-8000-000000000001', 'apify', 1, NULL, '{}')
$$, '23502');

-- ===========================================================================================
-- Other bad parameters
-- ===========================================================================================
SELECT * FROM pg_temp.fails_with('NULL campaign',
    $$SELECT track_campaign_cost(NULL, 'apify', 1, 0.5, '{}')$$, '23502');
SELECT * FROM pg_temp.fails_with('unknown campaign', $$
    SELECT track_campaign_cost('eeeeeeee-0000-4000-8000-00000000000e', 'apify', 1, 0.5, '{}')
$$, 'P0002');
SELECT * FROM pg_temp.fails_with('metadata is an array', $$
    SELECT track_campaign_cost('a1a1a1a1-0000-4000-8000-000000000001', 'apify', 1, 0.5, '[1]')
$$, '22023');
SELECT * FROM pg_temp.fails_with('metadata is a string', $$
    SELECT track_campaign_cost('a1a1a1a1-0000-4000-8000-000000000001', 'apify', 1, 0.5, '"x"')
$$, '22023');
SELECT * FROM pg_temp.fails_with('NULL service', $$
    SELECT track_campaign_cost('a1a1a1a1-0000-4000-8000-000000000001', NULL, 1, 0.5, '{}')
$$, '23502');
SELECT * FROM pg_temp.fails_with('blank service', $$
    SELECT track_campaign_cost('a1a1a1a1-0000-4000-8000-000000000001', '  ', 1, 0.5, '{}')
$$, '23502');
SELECT * FROM pg_temp.fails_with('service longer than 64 characters', $$
    SELECT track_campaign_cost('a1a1a1a1-0000-4000-8000-000000000001', repeat('s', 65), 1, 0.5, '{}')
$$, '22023');
SELECT * FROM pg_temp.fails_with('NULL items_processed', $$
    SELECT track_campaign_cost('a1a1a1a1-0000-4000-8000-000000000001', 'apify', NULL, 0.5, '{}')
$$, '23502');
SELECT * FROM pg_temp.fails_with('negative items_processed', $$
    SELECT track_campaign_cost('a1a1a1a1-0000-4000-8000-000000000001', 'apify', -1, 0.5, '{}')
$$, '22023');
SELECT * FROM pg_temp.fails_with('empty idempotency key', $$
    SELECT track_campaign_cost('a1a1a1a1-0000-4000-8000-000000000001', 'apify', 1, 0.5, '{}', '')
$$, '22023');

-- ===========================================================================================
-- Workspace binding (campaigndb.workspace_id)
-- ===========================================================================================
SET LOCAL campaigndb.workspace_id = 'bbbbbbbb-0000-4000-8000-000000000002';
SELECT * FROM pg_temp.fails_with('bound to workspace B, a cost on campaign A1', $$
    SELECT track_campaign_cost('a1a1a1a1-0000-4000-8000-000000000001', 'apify', 1, 0.5, '{}')
$$, '42501');
SELECT * FROM pg_temp.fails_with('bound to workspace B, replay of a cost of campaign A1', $$
    SELECT track_campaign_cost('a1a1a1a1-0000-4000-8000-000000000001', 'apify', 50, 0.75,
                               '{"run": "r-2"}', 'run-r-2')
$$, '42501');
CALL pg_temp.call('bound to workspace B, a cost on campaign B1', $$
    SELECT track_campaign_cost('b1b1b1b1-0000-4000-8000-000000000001', 'apify', 1, 0.5, '{}')
$$);
SELECT is(pg_temp.envelope_shape(pg_temp.envelope('bound to workspace B, a cost on campaign B1')),
          pg_temp.success_shape(), 'bound to workspace B: a cost on campaign B1 is recorded');

SET LOCAL campaigndb.workspace_id = 'not-a-uuid';
SELECT * FROM pg_temp.fails_with('garbage campaigndb.workspace_id', $$
    SELECT track_campaign_cost('a1a1a1a1-0000-4000-8000-000000000001', 'apify', 1, 0.5, '{}')
$$, '22023');
RESET campaigndb.workspace_id;

-- ===========================================================================================
-- A parameter that cannot be cast raises before the function runs (no envelope possible)
-- ===========================================================================================
SELECT throws_ok($$SELECT track_campaign_cost(p_campaign_id => 'nope', p_service => 'apify',
                                             p_items_processed => 1, p_cost_usd => 0.5,
                                             p_metadata => '{}')$$,
                 '22P02', NULL,
                 'p_campaign_id => ''nope'' raises 22P02 (cast failure before the call)');

-- ===========================================================================================
-- Issue 14: a rejected call costs what a successful one does (no JIT, the SQLSTATE table
-- read by key), and money is micro-dollars, numeric(18,6) (docs/limits.md)
-- ===========================================================================================
SELECT ok((SELECT p.proconfig @> ARRAY['jit=off'] FROM pg_catalog.pg_proc AS p
            WHERE p.oid = 'public.track_campaign_cost(uuid, varchar, integer, numeric, jsonb, text)'::regprocedure),
          'track_campaign_cost sets jit = off (its enable_seqscan = off prices scans at 1e10)');
CREATE TEMP TABLE error_code_scans AS
    SELECT s.seq_scan, s.idx_scan FROM pg_catalog.pg_stat_xact_user_tables AS s
     WHERE s.relid = 'campaigndb.error_codes'::regclass;
CREATE TEMP TABLE rejected_call AS
    SELECT track_campaign_cost('a1a1a1a1-0000-4000-8000-00000000dead', 'apify', 1, 0.5, '{}') AS e;
SELECT is((SELECT r.e ->> 'error_code' FROM rejected_call AS r), 'P0002',
          'rejected call: an unknown campaign answers P0002');
SELECT is((SELECT ARRAY[s.seq_scan - b.seq_scan, s.idx_scan - b.idx_scan]
             FROM pg_catalog.pg_stat_xact_user_tables AS s, error_code_scans AS b
            WHERE s.relid = 'campaigndb.error_codes'::regclass),
          ARRAY[0, 1]::bigint[],
          'rejected call: error_codes read through its primary key, never scanned whole');

SELECT * FROM pg_temp.fails_with('cost of 1e-16383', $$
    SELECT track_campaign_cost('a1a1a1a1-0000-4000-8000-000000000001', 'apify', 1,
                               1e-16383, '{}')
$$, '22023');
SELECT * FROM pg_temp.fails_with('cost with 7 decimals', $$
    SELECT track_campaign_cost('a1a1a1a1-0000-4000-8000-000000000001', 'apify', 1,
                               0.0000001, '{}')
$$, '22023');
CALL pg_temp.call('cost of one micro-dollar', $$
    SELECT track_campaign_cost('a2a2a2a2-0000-4000-8000-000000000002', 'apify', 1,
                               0.000001000, '{}')
$$);
SELECT is(pg_temp.envelope_shape(pg_temp.envelope('cost of one micro-dollar')),
          pg_temp.success_shape(), 'a cost of 0.000001 (trailing zeros aside) is accepted');
SELECT is((SELECT k.cost_usd::text FROM campaigndb.gmaps_api_costs AS k
            WHERE k.id = (pg_temp.envelope('cost of one micro-dollar') ->> 'cost_id')::uuid),
          '0.000001', 'the micro-dollar is stored exactly, at scale 6');
-- setup: campaign B1's total brought to 999,999,999,999.5 by a cost row written directly
INSERT INTO campaigndb.gmaps_api_costs (campaign_id, service, items_processed, cost_usd)
SELECT c.id, 'setup', 0, 999999999999.5 - c.total_cost FROM campaigndb.campaigns AS c
 WHERE c.id = 'b1b1b1b1-0000-4000-8000-000000000001';
UPDATE campaigndb.campaigns SET total_cost = 999999999999.5
 WHERE id = 'b1b1b1b1-0000-4000-8000-000000000001';
SELECT * FROM pg_temp.fails_with('a total that would reach 1e12', $$
    SELECT track_campaign_cost('b1b1b1b1-0000-4000-8000-000000000001', 'apify', 1, 0.5, '{}')
$$, '22003');
SELECT is(pg_temp.envelope('a total that would reach 1e12') -> 'error_detail' ->> 'column',
          'cost_usd', 'a total that would reach 1e12: the envelope names cost_usd');
SELECT is(ARRAY(SELECT format_type(a.atttypid, a.atttypmod) FROM pg_catalog.pg_attribute AS a
                 WHERE (a.attrelid, a.attname) IN
                       (('campaigndb.campaigns'::regclass, 'total_cost'),
                        ('campaigndb.gmaps_api_costs'::regclass, 'cost_usd'),
                        ('campaigndb.gmaps_campaign_coverage'::regclass, 'estimated_cost'),
                        ('campaigndb.gmaps_campaign_coverage'::regclass, 'actual_cost'))),
          ARRAY['numeric(18,6)', 'numeric(18,6)', 'numeric(18,6)', 'numeric(18,6)'],
          'money columns are numeric(18,6): micro-dollars below 1e12');
SELECT is((SELECT c.reloptions FROM pg_catalog.pg_class AS c
            WHERE c.oid = 'campaigndb.campaigns'::regclass),
          ARRAY['fillfactor=10'],
          'campaigns has fillfactor 10: room on its page for the total''s HOT updates');

-- ===========================================================================================
-- The invariant at the end: every campaign's total_cost equals the sum of its cost rows
-- ===========================================================================================
SELECT is(ARRAY(SELECT c.name FROM campaigndb.campaigns AS c
                 WHERE c.total_cost <> (SELECT COALESCE(sum(k.cost_usd), 0)
                                          FROM campaigndb.gmaps_api_costs AS k
                                         WHERE k.campaign_id = c.id)
                 ORDER BY 1),
          ARRAY[]::text[],
          'every campaign''s total_cost equals the sum of its cost rows');

SELECT * FROM finish();
ROLLBACK;
