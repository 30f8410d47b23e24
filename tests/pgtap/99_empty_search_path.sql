-- 99_empty_search_path: the API functions work for a caller whose search_path is empty
-- (DESIGN.md, after pg_partman): every SECURITY DEFINER function pins its own search_path and
-- names its objects schema-qualified, so nothing depends on the caller's path.
--
-- pgTAP 1.2's own functions call one another unqualified (public.is calls ok, ok calls
-- _todo, ...), so they cannot run with an empty search_path even when called as public.is.
-- The API calls therefore run with search_path = '' and keep their envelopes in a temporary
-- table; the assertions run afterwards, schema-qualified, with public back on the path.
-- Runs in one transaction that is rolled back.
BEGIN;
SELECT public.plan(18);

CREATE TEMP TABLE empty_path_calls (
    label        text PRIMARY KEY,
    search_path  text,
    envelope     jsonb
);

-- ===========================================================================================
-- The calls, with search_path = '' (schema-qualified, as a caller with no path must)
-- ===========================================================================================
SET LOCAL search_path = '';

INSERT INTO pg_temp.empty_path_calls
SELECT 'create_workspace', pg_catalog.current_setting('search_path'),
       public.create_workspace(p_name => 'No search path',
                               p_workspace_id => 'dddddddd-0000-4000-8000-000000000001');

INSERT INTO pg_temp.empty_path_calls
SELECT 'create_campaign_with_coverage', pg_catalog.current_setting('search_path'),
       public.create_campaign_with_coverage(
           p_campaign_data => '{"id": "dddddddd-1111-4000-8000-000000000001",
                                "workspace_id": "dddddddd-0000-4000-8000-000000000001",
                                "name": "No search path campaign"}',
           p_zip_codes => '["60601", "60602", "60601", {"zip_code": "60603", "estimated_cost": 2}]');

INSERT INTO pg_temp.empty_path_calls
SELECT 'track_campaign_cost', pg_catalog.current_setting('search_path'),
       public.track_campaign_cost(p_campaign_id => 'dddddddd-1111-4000-8000-000000000001',
                                  p_service => 'apify', p_items_processed => 7,
                                  p_cost_usd => 1.5, p_metadata => '{"path": ""}',
                                  p_idempotency_key => 'empty-path-1');

INSERT INTO pg_temp.empty_path_calls
SELECT 'track_campaign_cost replay', pg_catalog.current_setting('search_path'),
       public.track_campaign_cost(p_campaign_id => 'dddddddd-1111-4000-8000-000000000001',
                                  p_service => 'apify', p_items_processed => 7,
                                  p_cost_usd => 1.5, p_metadata => '{"path": ""}',
                                  p_idempotency_key => 'empty-path-1');

-- an error envelope too: the shared error helper must resolve its objects as well
INSERT INTO pg_temp.empty_path_calls
SELECT 'track_campaign_cost negative', pg_catalog.current_setting('search_path'),
       public.track_campaign_cost(p_campaign_id => 'dddddddd-1111-4000-8000-000000000001',
                                  p_service => 'apify', p_items_processed => 1,
                                  p_cost_usd => -1, p_metadata => '{}');

-- the reporting functions: a daily row (the whole validation runs), then its month
INSERT INTO pg_temp.empty_path_calls
SELECT 'upsert_daily_kpi_batch', pg_catalog.current_setting('search_path'),
       public.upsert_daily_kpi_batch(
           p_rows => '[{"campaign_id": "dddddddd-1111-4000-8000-000000000001",
                        "kpi_date": "2026-03-02", "platform": " Google ", "impressions": 400,
                        "clicks": 8, "spend": "2.00005", "conversions": 2, "revenue": 6}]',
           p_source => 'empty-path');

INSERT INTO pg_temp.empty_path_calls
SELECT 'aggregate_monthly_kpis', pg_catalog.current_setting('search_path'),
       public.aggregate_monthly_kpis(p_month => '2026-03-31',
                                     p_campaign_id => 'dddddddd-1111-4000-8000-000000000001');

-- pgTAP needs its schema on the path (see the header)
SET LOCAL search_path = public;

-- ===========================================================================================
-- The calls really ran with an empty search_path
-- ===========================================================================================
SELECT public.is(ARRAY(SELECT DISTINCT c.search_path FROM pg_temp.empty_path_calls AS c),
                 ARRAY['""'],
                 'every call ran with search_path = ''''');

-- ===========================================================================================
-- create_workspace
-- ===========================================================================================
SELECT public.is((SELECT c.envelope FROM pg_temp.empty_path_calls AS c
                   WHERE c.label = 'create_workspace'),
                 '{"success": true, "error": null, "error_code": null, "retry_recommended": false,
                   "workspace_id": "dddddddd-0000-4000-8000-000000000001", "replayed": false}'::jsonb,
                 'public.create_workspace succeeds with an empty search_path');
SELECT public.ok(EXISTS (SELECT 1 FROM campaigndb.workspaces AS w
                          WHERE w.id = 'dddddddd-0000-4000-8000-000000000001'),
                 'public.create_workspace wrote the workspace with an empty search_path');

-- ===========================================================================================
-- create_campaign_with_coverage
-- ===========================================================================================
SELECT public.is((SELECT c.envelope FROM pg_temp.empty_path_calls AS c
                   WHERE c.label = 'create_campaign_with_coverage'),
                 '{"success": true, "error": null, "error_code": null, "retry_recommended": false,
                   "campaign_id": "dddddddd-1111-4000-8000-000000000001", "zip_count": 3,
                   "replayed": false}'::jsonb,
                 'public.create_campaign_with_coverage succeeds with an empty search_path');
SELECT public.is((SELECT count(*) FROM campaigndb.gmaps_campaign_coverage AS g
                   WHERE g.campaign_id = 'dddddddd-1111-4000-8000-000000000001'),
                 3::bigint,
                 'public.create_campaign_with_coverage wrote three coverage rows with an empty search_path');

-- ===========================================================================================
-- track_campaign_cost
-- ===========================================================================================
SELECT public.is((SELECT c.envelope -> 'success' FROM pg_temp.empty_path_calls AS c
                   WHERE c.label = 'track_campaign_cost'),
                 'true'::jsonb,
                 'public.track_campaign_cost succeeds with an empty search_path');
SELECT public.ok((SELECT c.envelope ?& ARRAY['success', 'error', 'error_code', 'retry_recommended',
                                             'cost_id', 'new_total_cost']
                    FROM pg_temp.empty_path_calls AS c WHERE c.label = 'track_campaign_cost'),
                 'public.track_campaign_cost: the envelope carries its keys and cost_id, new_total_cost');
SELECT public.is((SELECT (c.envelope ->> 'new_total_cost')::numeric
                    FROM pg_temp.empty_path_calls AS c WHERE c.label = 'track_campaign_cost'),
                 1.5,
                 'public.track_campaign_cost: new_total_cost is 1.5');
SELECT public.is((SELECT c.envelope -> 'replayed' FROM pg_temp.empty_path_calls AS c
                   WHERE c.label = 'track_campaign_cost replay'),
                 'true'::jsonb,
                 'public.track_campaign_cost replays with an empty search_path');
SELECT public.is((SELECT c.envelope -> 'cost_id' FROM pg_temp.empty_path_calls AS c
                   WHERE c.label = 'track_campaign_cost replay'),
                 (SELECT c.envelope -> 'cost_id' FROM pg_temp.empty_path_calls AS c
                   WHERE c.label = 'track_campaign_cost'),
                 'public.track_campaign_cost replay returns the first cost_id');
SELECT public.is((SELECT c.total_cost FROM campaigndb.campaigns AS c
                   WHERE c.id = 'dddddddd-1111-4000-8000-000000000001'),
                 1.5::numeric,
                 'campaigns.total_cost is 1.5 after a cost and its replay');
SELECT public.is((SELECT count(*) FROM campaigndb.gmaps_api_costs AS k
                   WHERE k.campaign_id = 'dddddddd-1111-4000-8000-000000000001'),
                 1::bigint,
                 'one cost row after a cost and its replay');

-- ===========================================================================================
-- upsert_daily_kpi_batch and aggregate_monthly_kpis
-- ===========================================================================================
SELECT public.is((SELECT c.envelope - 'collection_log_id' FROM pg_temp.empty_path_calls AS c
                   WHERE c.label = 'upsert_daily_kpi_batch'),
                 '{"success": true, "error": null, "error_code": null, "retry_recommended": false,
                   "upserted": 1, "inserted": 1, "updated": 0, "unchanged": 0,
                   "first_date": "2026-03-02", "last_date": "2026-03-02", "replayed": false}'::jsonb,
                 'public.upsert_daily_kpi_batch succeeds with an empty search_path');
SELECT public.is((SELECT d.platform::text || ' ' || d.spend::text FROM campaigndb.daily_kpi_data AS d
                   WHERE d.campaign_id = 'dddddddd-1111-4000-8000-000000000001'),
                 'google 2.0001',
                 'public.upsert_daily_kpi_batch wrote its row (platform trimmed and lower-cased, '
                 'spend rounded) with an empty search_path');
SELECT public.is((SELECT c.envelope - 'collection_log_id' FROM pg_temp.empty_path_calls AS c
                   WHERE c.label = 'aggregate_monthly_kpis'),
                 '{"success": true, "error": null, "error_code": null, "retry_recommended": false,
                   "summaries_written": 1, "summaries_replaced": 0, "month": "2026-03-01",
                   "campaign_id": "dddddddd-1111-4000-8000-000000000001", "replayed": false}'::jsonb,
                 'public.aggregate_monthly_kpis succeeds with an empty search_path');
SELECT public.is((SELECT s.ctr::text || ' ' || s.cpc::text || ' ' || s.roas::text
                    FROM campaigndb.campaign_summaries AS s
                   WHERE s.campaign_id = 'dddddddd-1111-4000-8000-000000000001'),
                 '0.020000 0.250013 2.999850',
                 'public.aggregate_monthly_kpis wrote the summary (ratios) with an empty search_path');

-- ===========================================================================================
-- An error envelope with an empty search_path
-- ===========================================================================================
SELECT public.is((SELECT c.envelope - 'error' - 'error_detail' FROM pg_temp.empty_path_calls AS c
                   WHERE c.label = 'track_campaign_cost negative'),
                 '{"success": false, "error_code": "22023", "retry_recommended": false}'::jsonb,
                 'public.track_campaign_cost answers a 22023 envelope with an empty search_path');
SELECT public.is((SELECT jsonb_typeof(c.envelope -> 'error') FROM pg_temp.empty_path_calls AS c
                   WHERE c.label = 'track_campaign_cost negative'),
                 'string',
                 'the error envelope carries a message with an empty search_path');

SELECT * FROM public.finish();
ROLLBACK;
