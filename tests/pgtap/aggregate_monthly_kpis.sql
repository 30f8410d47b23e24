-- aggregate_monthly_kpis(p_month date, p_campaign_id uuid DEFAULT NULL,
--                        p_idempotency_key text DEFAULT NULL) -> jsonb
-- docs/contract.md section 3 (Reporting): returns summaries_written and collection_log_id (with
-- summaries_replaced, month, campaign_id, replayed).  Replaces one month's
-- campaign_summaries (all campaigns, or one) with the totals of that month's daily_kpi_data
-- and the ratios ctr, cpc, conversion_rate, roas (NULL when their divisor is 0, 6 decimals),
-- and writes its collection_log row, all or nothing: a re-run gives the same summaries, a
-- run failing part-way leaves the previous ones and writes no collection_log row.  Same
-- idempotency key and parameters: the first answer, replayed; other parameters: 23505.
-- Workspace binding: another workspace's campaign 42501; without p_campaign_id only the
-- bound workspace's summaries are replaced.
-- Runs in one transaction that is rolled back.
BEGIN;
SELECT plan(93);

-- Shared test helpers (pg_temp functions, gone with the session)
\ir lib/helpers.psql

-- summary(campaign, month): a campaign's summary of that month as comparable jsonb (NULL
-- when there is none); every column but computed_at.
CREATE FUNCTION pg_temp.summary(p_campaign_id uuid, p_month date)
RETURNS jsonb
LANGUAGE sql
AS $$
    SELECT jsonb_build_object('period_type', s.period_type, 'period_start', s.period_start,
                              'impressions', s.impressions, 'clicks', s.clicks,
                              'spend', s.spend, 'conversions', s.conversions,
                              'revenue', s.revenue, 'ctr', s.ctr, 'cpc', s.cpc,
                              'conversion_rate', s.conversion_rate, 'roas', s.roas,
                              'days_reported', s.days_reported)
      FROM campaigndb.campaign_summaries AS s
     WHERE s.campaign_id = p_campaign_id AND s.period_start = p_month
$$;

-- summaries(): every summary row (all columns but computed_at), in key order
CREATE FUNCTION pg_temp.summaries()
RETURNS jsonb
LANGUAGE sql
AS $$
    SELECT COALESCE(jsonb_agg(to_jsonb(s) - 'computed_at'
                              ORDER BY s.campaign_id, s.period_type, s.period_start), '[]')
      FROM campaigndb.campaign_summaries AS s
$$;

-- summarised(month): the campaigns that have a summary of that month, by name
CREATE FUNCTION pg_temp.summarised(p_month date)
RETURNS text[]
LANGUAGE sql
AS $$
    SELECT ARRAY(SELECT c.name FROM campaigndb.campaign_summaries AS s
                   JOIN campaigndb.campaigns AS c ON c.id = s.campaign_id
                  WHERE s.period_start = p_month ORDER BY 1)
$$;

-- The definition, privileges and setup both KPI functions' tests share (14 tests), then
-- campaign A3; the daily rows follow (hand-computed March totals in the assertions below)
\set fn aggregate_monthly_kpis
\set args 'ARRAY[''date'', ''uuid'', ''text'']'
\set defaults 2
\set defaults_note 'p_campaign_id and p_idempotency_key have defaults'
\ir lib/kpi_function.psql
SELECT is(pg_temp.envelope_shape(create_campaign_with_coverage(
              '{"id": "a3a3a3a3-0000-4000-8000-000000000003", "name": "Campaign A3",
                "workspace_id": "aaaaaaaa-0000-4000-8000-000000000001"}', '["10003"]')),
          pg_temp.success_shape(), 'setup: campaign A3');

-- A1: 2026-02-28 and 2026-04-01 lie just outside March; two platforms on 03-01; a zero day
-- on 03-15; 03-31 is March's last day.  A2: impressions but no click and no spend.  B1: spend
-- but no impression.  A3: February only.
SELECT is(upsert_daily_kpi_batch('[
    {"campaign_id": "a1a1a1a1-0000-4000-8000-000000000001", "kpi_date": "2026-02-28", "platform": "google",
     "impressions": 9000, "clicks": 90, "spend": 90, "conversions": 9, "revenue": 900},
    {"campaign_id": "a1a1a1a1-0000-4000-8000-000000000001", "kpi_date": "2026-03-01", "platform": "google",
     "impressions": 1000, "clicks": 7, "spend": 10, "conversions": 1, "revenue": 35.5},
    {"campaign_id": "a1a1a1a1-0000-4000-8000-000000000001", "kpi_date": "2026-03-01", "platform": "meta",
     "impressions": 2000, "clicks": 2, "spend": 0.5, "conversions": 0, "revenue": 0},
    {"campaign_id": "a1a1a1a1-0000-4000-8000-000000000001", "kpi_date": "2026-03-15", "platform": "google",
     "impressions": 0, "clicks": 0, "spend": 0, "conversions": 0, "revenue": 0},
    {"campaign_id": "a1a1a1a1-0000-4000-8000-000000000001", "kpi_date": "2026-03-31", "platform": "google",
     "impressions": 3000, "clicks": 0, "spend": 2, "conversions": 2, "revenue": 4.25},
    {"campaign_id": "a1a1a1a1-0000-4000-8000-000000000001", "kpi_date": "2026-04-01", "platform": "google",
     "impressions": 7000, "clicks": 70, "spend": 70, "conversions": 7, "revenue": 700},
    {"campaign_id": "a2a2a2a2-0000-4000-8000-000000000002", "kpi_date": "2026-03-10", "platform": "google",
     "impressions": 100, "clicks": 0, "spend": 0, "conversions": 0, "revenue": 5},
    {"campaign_id": "b1b1b1b1-0000-4000-8000-000000000001", "kpi_date": "2026-03-20", "platform": "tiktok",
     "impressions": 0, "clicks": 0, "spend": 3, "conversions": 0, "revenue": 6},
    {"campaign_id": "a3a3a3a3-0000-4000-8000-000000000003", "kpi_date": "2026-02-10", "platform": "google",
     "impressions": 10, "clicks": 1, "spend": 1, "conversions": 0, "revenue": 0}]', 'setup') -> 'inserted',
          '9'::jsonb, 'setup: nine daily rows');

DO $do$
BEGIN
    SET LOCAL ROLE campaigndb_app;
    PERFORM set_config('campaigndb_test.as_app', aggregate_monthly_kpis('2020-01-01')::text, true);
    RESET ROLE;
END
$do$;
SELECT is(current_setting('campaigndb_test.as_app')::jsonb - 'collection_log_id',
          '{"success": true, "error": null, "error_code": null, "retry_recommended": false,
            "summaries_written": 0, "summaries_replaced": 0, "month": "2020-01-01",
            "campaign_id": null, "replayed": false}'::jsonb,
          'campaigndb_app, which holds no table privilege, runs an aggregation through the function');

SELECT throws_ok(
    $$DO $do$ BEGIN
          SET LOCAL ROLE campaigndb_readonly;
          PERFORM aggregate_monthly_kpis('2020-01-01');
      END $do$
    $$,
    '42501', NULL,
    'campaigndb_readonly is refused EXECUTE on aggregate_monthly_kpis (42501)');

-- ===========================================================================================
-- March, every campaign: exact totals and ratios
-- ===========================================================================================
CALL pg_temp.call('March', $$SELECT aggregate_monthly_kpis(p_month => '2026-03-17')$$);

SELECT is(pg_temp.envelope('March') - 'collection_log_id',
          '{"success": true, "error": null, "error_code": null, "retry_recommended": false,
            "summaries_written": 3, "summaries_replaced": 0, "month": "2026-03-01",
            "campaign_id": null, "replayed": false}'::jsonb,
          'March: success envelope with summaries_written 3, summaries_replaced 0, the month '
          'normalised to its first day (2026-03-17 -> 2026-03-01), replayed false');
SELECT is(jsonb_typeof(pg_temp.envelope('March') -> 'collection_log_id'), 'number',
          'March: collection_log_id is a number');
SELECT is(pg_temp.rows_added('March'), '{"campaign_summaries": 3, "collection_log": 1}'::jsonb,
          'March: three summaries and one collection_log row added');
SELECT is(pg_temp.summarised('2026-03-01'), ARRAY['Campaign A1', 'Campaign A2', 'Campaign B1'],
          'March: a summary for each campaign with March rows (A3 has none)');
-- A1: 1000+2000+0+3000 impressions, 7+2+0+0 clicks, 10+0.5+0+2 spend, 1+0+0+2 conversions,
-- 35.5+0+0+4.25 revenue over 3 distinct dates; ctr 9/6000, cpc 12.5/9, conversion_rate 3/9,
-- roas 39.75/12.5, each rounded to 6 decimals
SELECT is(pg_temp.summary('a1a1a1a1-0000-4000-8000-000000000001', '2026-03-01'),
          '{"period_type": "month", "period_start": "2026-03-01", "impressions": 6000,
            "clicks": 9, "spend": 12.5, "conversions": 3, "revenue": 39.75,
            "ctr": 0.0015, "cpc": 1.388889, "conversion_rate": 0.333333, "roas": 3.18,
            "days_reported": 3}'::jsonb,
          'March: A1''s totals (2026-02-28 and 2026-04-01 excluded, 2026-03-31 included), '
          'ratios to 6 decimals, days_reported counts distinct dates');
SELECT is((SELECT s.cpc::text || ' ' || s.conversion_rate::text FROM campaigndb.campaign_summaries AS s
            WHERE s.campaign_id = 'a1a1a1a1-0000-4000-8000-000000000001'
              AND s.period_start = '2026-03-01'),
          '1.388889 0.333333', 'March: A1''s cpc and conversion_rate are rounded to 6 decimals');
SELECT is(pg_temp.summary('a2a2a2a2-0000-4000-8000-000000000002', '2026-03-01'),
          '{"period_type": "month", "period_start": "2026-03-01", "impressions": 100,
            "clicks": 0, "spend": 0, "conversions": 0, "revenue": 5,
            "ctr": 0, "cpc": null, "conversion_rate": null, "roas": null,
            "days_reported": 1}'::jsonb,
          'March: A2 (no click, no spend): ctr 0, cpc, conversion_rate and roas NULL');
SELECT is(pg_temp.summary('b1b1b1b1-0000-4000-8000-000000000001', '2026-03-01'),
          '{"period_type": "month", "period_start": "2026-03-01", "impressions": 0,
            "clicks": 0, "spend": 3, "conversions": 0, "revenue": 6,
            "ctr": null, "cpc": null, "conversion_rate": null, "roas": 2,
            "days_reported": 1}'::jsonb,
          'March: B1 (no impression): ctr, cpc, conversion_rate NULL, roas 2');
SELECT is(pg_temp.log_row('March'),
          '{"workspace_id": null, "job": "aggregate_monthly_kpis", "period": "2026-03",
            "status": "succeeded", "rows_affected": 3, "source": null, "idempotency_key": null,
            "error": null, "finished": true}'::jsonb,
          'March: the collection_log row: job, period 2026-03, status succeeded, '
          'rows_affected 3, no workspace (every campaign), finished');

-- ===========================================================================================
-- February: only February's rows
-- ===========================================================================================
CALL pg_temp.call('February', $$SELECT aggregate_monthly_kpis('2026-02-28')$$);
SELECT is(pg_temp.envelope('February') -> 'summaries_written', '2'::jsonb,
          'February: two summaries written (A1, A3)');
SELECT is(pg_temp.summary('a1a1a1a1-0000-4000-8000-000000000001', '2026-02-01'),
          '{"period_type": "month", "period_start": "2026-02-01", "impressions": 9000,
            "clicks": 90, "spend": 90, "conversions": 9, "revenue": 900,
            "ctr": 0.01, "cpc": 1, "conversion_rate": 0.1, "roas": 10,
            "days_reported": 1}'::jsonb,
          'February: A1''s summary holds its 2026-02-28 row only');
SELECT is(pg_temp.summary('a3a3a3a3-0000-4000-8000-000000000003', '2026-02-01'),
          '{"period_type": "month", "period_start": "2026-02-01", "impressions": 10,
            "clicks": 1, "spend": 1, "conversions": 0, "revenue": 0,
            "ctr": 0.1, "cpc": 1, "conversion_rate": 0, "roas": 0,
            "days_reported": 1}'::jsonb,
          'February: A3''s summary (zero conversions and revenue give ratios 0, not NULL)');

-- ===========================================================================================
-- March again: the same summaries, replaced rather than doubled
-- ===========================================================================================
CREATE TEMP TABLE summaries_before AS SELECT pg_temp.summaries() AS summaries;
CALL pg_temp.call('March again', $$SELECT aggregate_monthly_kpis('2026-03-31')$$);
SELECT is(pg_temp.envelope('March again') - 'collection_log_id',
          '{"success": true, "error": null, "error_code": null, "retry_recommended": false,
            "summaries_written": 3, "summaries_replaced": 3, "month": "2026-03-01",
            "campaign_id": null, "replayed": false}'::jsonb,
          'March again: summaries_written 3, summaries_replaced 3 (the previous count)');
SELECT is(pg_temp.summaries(), (SELECT b.summaries FROM summaries_before AS b),
          'March again: every summary identical to before (March re-computed, February untouched)');
SELECT is(pg_temp.rows_added('March again'), '{"collection_log": 1}'::jsonb,
          'March again: no summary added (replaced, not doubled); one collection_log row added');
SELECT isnt((pg_temp.envelope('March again') -> 'collection_log_id'),
            (pg_temp.envelope('March') -> 'collection_log_id'),
            'March again: a collection_log row of its own');

-- ===========================================================================================
-- A campaign whose rows are gone loses its summary on the next run
-- ===========================================================================================
DELETE FROM campaigndb.daily_kpi_data WHERE campaign_id = 'a2a2a2a2-0000-4000-8000-000000000002';
CALL pg_temp.call('March without A2''s rows', $$SELECT aggregate_monthly_kpis('2026-03-01')$$);
SELECT is(pg_temp.envelope('March without A2''s rows') -> 'summaries_written', '2'::jsonb,
          'March without A2''s rows: summaries_written 2');
SELECT is(pg_temp.envelope('March without A2''s rows') -> 'summaries_replaced', '3'::jsonb,
          'March without A2''s rows: summaries_replaced 3');
SELECT is(pg_temp.summarised('2026-03-01'), ARRAY['Campaign A1', 'Campaign B1'],
          'March without A2''s rows: A2''s March summary is gone');

-- ===========================================================================================
-- One campaign: the others' summaries are left alone
-- ===========================================================================================
-- new figures for A1 (03-15: 1000 impressions, 1 click) and B1 (spend 4)
SELECT is(upsert_daily_kpi_batch('[
    {"campaign_id": "a1a1a1a1-0000-4000-8000-000000000001", "kpi_date": "2026-03-15", "platform": "google",
     "impressions": 1000, "clicks": 1, "spend": 0, "conversions": 0, "revenue": 0},
    {"campaign_id": "b1b1b1b1-0000-4000-8000-000000000001", "kpi_date": "2026-03-20", "platform": "tiktok",
     "impressions": 0, "clicks": 0, "spend": 4, "conversions": 0, "revenue": 6}]', 'setup') -> 'updated',
          '2'::jsonb, 'setup: new figures for A1 and B1 in March');

CALL pg_temp.call('March, campaign A1', $$
    SELECT aggregate_monthly_kpis(p_month => '2026-03-02',
                                  p_campaign_id => 'a1a1a1a1-0000-4000-8000-000000000001')
$$);
SELECT is(pg_temp.envelope('March, campaign A1') - 'collection_log_id',
          '{"success": true, "error": null, "error_code": null, "retry_recommended": false,
            "summaries_written": 1, "summaries_replaced": 1, "month": "2026-03-01",
            "campaign_id": "a1a1a1a1-0000-4000-8000-000000000001", "replayed": false}'::jsonb,
          'March, campaign A1: summaries_written 1, summaries_replaced 1, the campaign named');
-- 7000 impressions, 10 clicks: ctr 10/7000 = 0.001428571... -> 0.001429, cpc 1.25
SELECT is(pg_temp.summary('a1a1a1a1-0000-4000-8000-000000000001', '2026-03-01'),
          '{"period_type": "month", "period_start": "2026-03-01", "impressions": 7000,
            "clicks": 10, "spend": 12.5, "conversions": 3, "revenue": 39.75,
            "ctr": 0.001429, "cpc": 1.25, "conversion_rate": 0.3, "roas": 3.18,
            "days_reported": 3}'::jsonb,
          'March, campaign A1: A1''s summary holds its new figures');
SELECT is(pg_temp.summary('b1b1b1b1-0000-4000-8000-000000000001', '2026-03-01') -> 'spend',
          '3'::jsonb,
          'March, campaign A1: B1''s summary is left alone (still spend 3, not 4)');
SELECT is(pg_temp.log_row('March, campaign A1'),
          '{"workspace_id": "aaaaaaaa-0000-4000-8000-000000000001", "job": "aggregate_monthly_kpis",
            "period": "2026-03", "status": "succeeded", "rows_affected": 1, "source": null,
            "idempotency_key": null, "error": null, "finished": true}'::jsonb,
          'March, campaign A1: the collection_log row belongs to A1''s workspace, rows_affected 1');

CALL pg_temp.call('March, campaign A3 (no March rows)', $$
    SELECT aggregate_monthly_kpis('2026-03-01', 'a3a3a3a3-0000-4000-8000-000000000003')
$$);
SELECT is(pg_temp.envelope('March, campaign A3 (no March rows)') - 'collection_log_id',
          '{"success": true, "error": null, "error_code": null, "retry_recommended": false,
            "summaries_written": 0, "summaries_replaced": 0, "month": "2026-03-01",
            "campaign_id": "a3a3a3a3-0000-4000-8000-000000000003", "replayed": false}'::jsonb,
          'March, campaign A3 (no March rows): nothing to summarise');
SELECT is(pg_temp.rows_added('March, campaign A3 (no March rows)'), '{"collection_log": 1}'::jsonb,
          'March, campaign A3 (no March rows): only the collection_log row is added');

-- ===========================================================================================
-- Bad parameters: nothing written
-- ===========================================================================================
SELECT * FROM pg_temp.fails_with('unknown campaign', $$
    SELECT aggregate_monthly_kpis('2026-03-01', 'eeeeeeee-0000-4000-8000-00000000000e')
$$, 'P0002');
SELECT alike(pg_temp.envelope('unknown campaign') ->> 'error', '%eeeeeeee-0000-4000-8000-00000000000e%',
             'unknown campaign: the message names the campaign');
SELECT * FROM pg_temp.fails_with('NULL month',
    $$SELECT aggregate_monthly_kpis(NULL)$$, '23502');
SELECT * FROM pg_temp.fails_with('NULL month with a campaign',
    $$SELECT aggregate_monthly_kpis(NULL, 'a1a1a1a1-0000-4000-8000-000000000001')$$, '23502');
SELECT * FROM pg_temp.fails_with('month 0999-12-01',
    $$SELECT aggregate_monthly_kpis('0999-12-01')$$, '22023');
SELECT * FROM pg_temp.fails_with('month 3000-01-01',
    $$SELECT aggregate_monthly_kpis('3000-01-01')$$, '22023');
SELECT * FROM pg_temp.fails_with('month infinity',
    $$SELECT aggregate_monthly_kpis('infinity')$$, '22023');
SELECT * FROM pg_temp.fails_with('empty idempotency key',
    $$SELECT aggregate_monthly_kpis('2026-03-01', NULL, '')$$, '22023');
SELECT * FROM pg_temp.fails_with('idempotency key of 201 characters',
    format('SELECT aggregate_monthly_kpis(''2026-03-01'', NULL, %L)', repeat('k', 201)), '22023');

-- ===========================================================================================
-- Idempotency: same key and parameters replay; same key, other parameters 23505
-- ===========================================================================================
CALL pg_temp.call('keyed run', $$SELECT aggregate_monthly_kpis('2026-02-14', NULL, 'agg-feb')$$);
CALL pg_temp.call('keyed replay', $$
    SELECT aggregate_monthly_kpis(p_month => '2026-02-01', p_idempotency_key => 'agg-feb')
$$);
SELECT is(pg_temp.envelope('keyed run') -> 'summaries_written', '2'::jsonb,
          'keyed run: February aggregated');
SELECT is(pg_temp.log_row('keyed run') ->> 'idempotency_key', 'agg-feb',
          'keyed run: the key is on its collection_log row');
SELECT is(pg_temp.envelope('keyed replay'),
          pg_temp.envelope('keyed run') || '{"replayed": true}'::jsonb,
          'keyed replay (another day of the same month): the first answer, same '
          'collection_log_id, replayed true');
SELECT is(pg_temp.changes('keyed replay'), '{}'::jsonb,
          'keyed replay: nothing written (summaries untouched, no collection_log row)');
SELECT * FROM pg_temp.fails_with('same key, other month',
    $$SELECT aggregate_monthly_kpis('2026-03-01', NULL, 'agg-feb')$$, '23505');
SELECT * FROM pg_temp.fails_with('same key, one campaign',
    $$SELECT aggregate_monthly_kpis('2026-02-01', 'a1a1a1a1-0000-4000-8000-000000000001', 'agg-feb')$$,
    '23505');
SELECT is(upsert_daily_kpi_batch('[]', 'setup', 'kpi-batch-key') -> 'success', 'true'::jsonb,
          'setup: an upsert_daily_kpi_batch call with key kpi-batch-key');
SELECT * FROM pg_temp.fails_with('the key of an upsert_daily_kpi_batch call',
    $$SELECT aggregate_monthly_kpis('2026-02-01', NULL, 'kpi-batch-key')$$, '23505');

-- a keyed run of campaign B1 (workspace B), replayed below while bound to workspace A
CALL pg_temp.call('keyed run of B1', $$
    SELECT aggregate_monthly_kpis('2026-03-01', 'b1b1b1b1-0000-4000-8000-000000000001', 'agg-b1')
$$);
SELECT is(pg_temp.summary('b1b1b1b1-0000-4000-8000-000000000001', '2026-03-01') -> 'spend',
          '4'::jsonb, 'keyed run of B1: B1''s summary holds spend 4');

-- ===========================================================================================
-- Workspace binding (campaigndb.workspace_id)
-- ===========================================================================================
-- B1's figures change again (spend 5): a run that touched B1 would change its summary
SELECT is(upsert_daily_kpi_batch('[
    {"campaign_id": "b1b1b1b1-0000-4000-8000-000000000001", "kpi_date": "2026-03-20", "platform": "tiktok",
     "impressions": 0, "clicks": 0, "spend": 5, "conversions": 0, "revenue": 6}]', 'setup') -> 'updated',
          '1'::jsonb, 'setup: new figures for B1 in March');

SET LOCAL campaigndb.workspace_id = 'aaaaaaaa-0000-4000-8000-000000000001';
SELECT * FROM pg_temp.fails_with('bound to workspace A, campaign B1', $$
    SELECT aggregate_monthly_kpis('2026-03-01', 'b1b1b1b1-0000-4000-8000-000000000001')
$$, '42501');
SELECT * FROM pg_temp.fails_with('bound to workspace A, replay of B1''s keyed run', $$
    SELECT aggregate_monthly_kpis('2026-03-01', 'b1b1b1b1-0000-4000-8000-000000000001', 'agg-b1')
$$, '42501');

CREATE TEMP TABLE b1_summary_before AS
SELECT pg_temp.summary('b1b1b1b1-0000-4000-8000-000000000001', '2026-03-01') AS summary;
CALL pg_temp.call('bound to workspace A, every campaign', $$
    SELECT aggregate_monthly_kpis('2026-03-01')
$$);
SELECT is(pg_temp.envelope('bound to workspace A, every campaign') - 'collection_log_id',
          '{"success": true, "error": null, "error_code": null, "retry_recommended": false,
            "summaries_written": 1, "summaries_replaced": 1, "month": "2026-03-01",
            "campaign_id": null, "replayed": false}'::jsonb,
          'bound to workspace A, every campaign: only workspace A''s summaries are counted '
          '(A1 written and replaced)');
SELECT is(pg_temp.summary('b1b1b1b1-0000-4000-8000-000000000001', '2026-03-01'),
          (SELECT b.summary FROM b1_summary_before AS b),
          'bound to workspace A, every campaign: B1''s summary is left exactly as it was');
SELECT is(pg_temp.summarised('2026-03-01'), ARRAY['Campaign A1', 'Campaign B1'],
          'bound to workspace A, every campaign: B1 keeps its March summary');
SELECT is(pg_temp.log_row('bound to workspace A, every campaign') ->> 'workspace_id',
          'aaaaaaaa-0000-4000-8000-000000000001',
          'bound to workspace A, every campaign: the collection_log row belongs to workspace A');

-- a setting that is not a uuid: 22023 in an envelope, like every bad input.  The call goes
-- through envelope_or_raised, so that raising instead fails these assertions (showing the
-- raised message) rather than aborting the file.
SET LOCAL campaigndb.workspace_id = 'not-a-uuid';
SELECT * FROM pg_temp.fails_with('garbage campaigndb.workspace_id',
    $$SELECT pg_temp.envelope_or_raised('SELECT aggregate_monthly_kpis(''2026-03-01'')')$$,
    '22023');
SELECT is(pg_temp.envelope('garbage campaigndb.workspace_id') -> 'message', NULL,
          'garbage campaigndb.workspace_id: answered with an envelope, not raised');
RESET campaigndb.workspace_id;

-- ===========================================================================================
-- A run failing part-way (injected: the 2nd summary insert raises) leaves the previous
-- summaries and writes no collection_log row
-- ===========================================================================================
-- inserts are counted by a sequence, which a rollback does not undo
CREATE TEMP SEQUENCE summary_inserts;
CREATE FUNCTION pg_temp.fail_second_summary()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF pg_catalog.nextval('pg_temp.summary_inserts') = 2 THEN
        RAISE EXCEPTION 'injected failure at the second summary' USING ERRCODE = 'TE001';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER fail_second_summary BEFORE INSERT ON campaigndb.campaign_summaries
    FOR EACH ROW EXECUTE FUNCTION pg_temp.fail_second_summary();

-- March has rows of A1 and B1, and B1's figures differ from its summary: a run that went
-- through would replace both summaries
SELECT * FROM pg_temp.fails_with('March, failing at the second summary',
    $$SELECT aggregate_monthly_kpis('2026-03-01', NULL, 'agg-injected')$$, 'TE001');
SELECT is(pg_temp.envelope('March, failing at the second summary') ->> 'error',
          'injected failure at the second summary',
          'March, failing at the second summary: the envelope carries the trigger''s message');
SELECT is((SELECT s.last_value FROM pg_temp.summary_inserts AS s), 2::bigint,
          'March, failing at the second summary: the failure came part-way (after the old '
          'summaries were deleted and the first new one inserted)');
SELECT is(pg_temp.summary('b1b1b1b1-0000-4000-8000-000000000001', '2026-03-01'),
          (SELECT b.summary FROM b1_summary_before AS b),
          'March, failing at the second summary: B1''s previous summary is intact');

DROP TRIGGER fail_second_summary ON campaigndb.campaign_summaries;
CALL pg_temp.call('March, without the trigger', $$
    SELECT aggregate_monthly_kpis('2026-03-01', NULL, 'agg-injected')
$$);
SELECT is(pg_temp.envelope('March, without the trigger') - 'collection_log_id',
          '{"success": true, "error": null, "error_code": null, "retry_recommended": false,
            "summaries_written": 2, "summaries_replaced": 2, "month": "2026-03-01",
            "campaign_id": null, "replayed": false}'::jsonb,
          'March, without the trigger: the same run succeeds (its key was not used by the '
          'failed run)');
SELECT is(pg_temp.summary('b1b1b1b1-0000-4000-8000-000000000001', '2026-03-01') -> 'spend',
          '5'::jsonb, 'March, without the trigger: B1''s summary now holds spend 5');

-- ===========================================================================================
-- A parameter that cannot be cast raises before the function runs (no envelope possible)
-- ===========================================================================================
SELECT throws_ok($$SELECT aggregate_monthly_kpis(p_month => '2026-02-30')$$,
                 '22008', NULL,
                 'p_month => ''2026-02-30'' raises 22008 (cast failure before the call)');

SELECT * FROM finish();
ROLLBACK;
