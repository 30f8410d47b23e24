-- upsert_daily_kpi_batch(p_rows jsonb, p_source text, p_idempotency_key text DEFAULT NULL)
--   -> jsonb
-- docs/contract.md section 3 (Reporting): returns upserted and collection_log_id (with inserted,
-- updated, unchanged, first_date, last_date, replayed).  Upsert on (campaign_id, kpi_date,
-- platform): new key inserted, other figures updated, identical figures left alone; platform
-- stored trimmed and lower-case, spend and revenue (numbers or numeric strings) to 4
-- decimals.  Every element is validated before anything is written and the first bad one is
-- named by index and field; the collection_log row is written in the same transaction, so a
-- failed call (even one failing at the log row) writes nothing.  Same idempotency key and
-- parameters: the first answer, replayed; same key, other parameters: 23505.  Workspace
-- binding: another workspace's campaign 42501.
-- Runs in one transaction that is rolled back.
BEGIN;
SELECT plan(244);

-- Shared test helpers (pg_temp functions, gone with the session)
\ir lib/helpers.psql

-- kpi_row(changes): a valid element for a key no call below saves (campaign A1,
-- 2026-03-20, google), with the given keys replaced or added.
CREATE FUNCTION pg_temp.kpi_row(p_changes jsonb DEFAULT '{}')
RETURNS jsonb
LANGUAGE sql
AS $$
    SELECT '{"campaign_id": "a1a1a1a1-0000-4000-8000-000000000001", "kpi_date": "2026-03-20",
             "platform": "google", "impressions": 10, "clicks": 2, "spend": 1.5,
             "conversions": 1, "revenue": 3}'::jsonb || p_changes
$$;

-- batch_call(element): the SQL of a call whose batch holds a valid new row (p_rows[0]), an
-- update of a saved row (p_rows[1]) and the given element (p_rows[2]); a failure must save
-- neither of the first two.
CREATE FUNCTION pg_temp.batch_call(p_element jsonb)
RETURNS text
LANGUAGE sql
AS $$
    SELECT format('SELECT upsert_daily_kpi_batch(%L, %L)',
                  jsonb_build_array(
                      pg_temp.kpi_row('{"platform": "bing"}'),
                      pg_temp.kpi_row('{"kpi_date": "2026-03-01", "impressions": 999999}'),
                      p_element),
                  'validation')
$$;

-- fails_naming(case, sql, sqlstate, fragment): fails_with (error envelope with that SQLSTATE,
-- nothing written) and a third assertion: the message contains fragment (the element index
-- and field, e.g. p_rows[2].clicks).
CREATE FUNCTION pg_temp.fails_naming(p_case text, p_sql text, p_sqlstate text, p_fragment text)
RETURNS SETOF text
LANGUAGE plpgsql
AS $$
BEGIN
    RETURN QUERY SELECT * FROM pg_temp.fails_with(p_case, p_sql, p_sqlstate);
    RETURN NEXT alike(pg_temp.envelope(p_case) ->> 'error',
                      '%' || replace(replace(p_fragment, '_', '\_'), '%', '\%') || '%',
                      p_case || ': the message names ' || p_fragment);
END
$$;

-- kpi_rows(campaign): a campaign's daily rows as comparable jsonb, in key order
CREATE FUNCTION pg_temp.kpi_rows(p_campaign_id uuid)
RETURNS jsonb
LANGUAGE sql
AS $$
    SELECT COALESCE(jsonb_agg(jsonb_build_object(
               'kpi_date', d.kpi_date, 'platform', d.platform, 'impressions', d.impressions,
               'clicks', d.clicks, 'spend', d.spend, 'conversions', d.conversions,
               'revenue', d.revenue, 'source', d.source)
               ORDER BY d.kpi_date, d.platform), '[]')
      FROM campaigndb.daily_kpi_data AS d
     WHERE d.campaign_id = p_campaign_id
$$;

-- The definition, privileges and setup both KPI functions' tests share (14 tests)
\set fn upsert_daily_kpi_batch
\set args 'ARRAY[''jsonb'', ''text'', ''text'']'
\set defaults 1
\set defaults_note 'only the trailing p_idempotency_key has a default'
\ir lib/kpi_function.psql

DO $do$
BEGIN
    SET LOCAL ROLE campaigndb_app;
    PERFORM set_config('campaigndb_test.as_app', upsert_daily_kpi_batch(
        '[{"campaign_id": "b1b1b1b1-0000-4000-8000-000000000001", "kpi_date": "2026-01-15",
           "platform": "tiktok", "impressions": 1, "clicks": 0, "spend": 0, "conversions": 0,
           "revenue": 0}]', 'as-app')::text, true);
    RESET ROLE;
END
$do$;
SELECT is(current_setting('campaigndb_test.as_app')::jsonb - 'collection_log_id',
          '{"success": true, "error": null, "error_code": null, "retry_recommended": false,
            "upserted": 1, "inserted": 1, "updated": 0, "unchanged": 0,
            "first_date": "2026-01-15", "last_date": "2026-01-15", "replayed": false}'::jsonb,
          'campaigndb_app, which holds no table privilege, saves a daily row through the function');

SELECT throws_ok(
    $$DO $do$ BEGIN
          SET LOCAL ROLE campaigndb_readonly;
          PERFORM upsert_daily_kpi_batch('[]', 'readonly');
      END $do$
    $$,
    '42501', NULL,
    'campaigndb_readonly is refused EXECUTE on upsert_daily_kpi_batch (42501)');

-- ===========================================================================================
-- Happy path: four new rows of two campaigns of workspace A
-- ===========================================================================================
CALL pg_temp.call('first batch', $$
    SELECT upsert_daily_kpi_batch(p_source => '  nightly-import  ', p_rows => '[
        {"campaign_id": "a1a1a1a1-0000-4000-8000-000000000001", "kpi_date": "2026-03-01",
         "platform": "  Google ", "impressions": 1000, "clicks": 50, "spend": 12.5,
         "conversions": 5, "revenue": "40.123456"},
        {"campaign_id": "a1a1a1a1-0000-4000-8000-000000000001", "kpi_date": "2026-03-01",
         "platform": "Meta", "impressions": 2000, "clicks": 40, "spend": "7.25",
         "conversions": 2, "revenue": 0},
        {"campaign_id": "A2A2A2A2-0000-4000-8000-000000000002", "kpi_date": "2026-03-02",
         "platform": "google", "impressions": 0, "clicks": 0, "spend": 0, "conversions": 0,
         "revenue": 0},
        {"campaign_id": "a1a1a1a1-0000-4000-8000-000000000001", "kpi_date": "2026-03-03",
         "platform": "google", "impressions": 500, "clicks": 10, "spend": 3.33335,
         "conversions": 1, "revenue": 9.99999}]')
$$);

SELECT is(pg_temp.envelope('first batch') - 'collection_log_id',
          '{"success": true, "error": null, "error_code": null, "retry_recommended": false,
            "upserted": 4, "inserted": 4, "updated": 0, "unchanged": 0,
            "first_date": "2026-03-01", "last_date": "2026-03-03", "replayed": false}'::jsonb,
          'first batch: success envelope with upserted 4, inserted 4, updated 0, unchanged 0, '
          'first_date and last_date, replayed false');
SELECT is(jsonb_typeof(pg_temp.envelope('first batch') -> 'collection_log_id'), 'number',
          'first batch: collection_log_id is a number');
SELECT is(pg_temp.rows_added('first batch'), '{"daily_kpi_data": 4, "collection_log": 1}'::jsonb,
          'first batch: four daily rows and one collection_log row added');
SELECT is(pg_temp.kpi_rows('a1a1a1a1-0000-4000-8000-000000000001'),
          '[{"kpi_date": "2026-03-01", "platform": "google", "impressions": 1000, "clicks": 50,
             "spend": 12.5, "conversions": 5, "revenue": 40.1235, "source": "nightly-import"},
            {"kpi_date": "2026-03-01", "platform": "meta", "impressions": 2000, "clicks": 40,
             "spend": 7.25, "conversions": 2, "revenue": 0, "source": "nightly-import"},
            {"kpi_date": "2026-03-03", "platform": "google", "impressions": 500, "clicks": 10,
             "spend": 3.3334, "conversions": 1, "revenue": 10.0000, "source": "nightly-import"}]'::jsonb,
          'first batch: campaign A1''s rows hold every field; platform trimmed and lower-cased; '
          'spend and revenue from numbers and numeric strings, rounded to 4 decimals; '
          'source trimmed');
SELECT is((SELECT d.spend::text || ' ' || d.revenue::text FROM campaigndb.daily_kpi_data AS d
            WHERE d.campaign_id = 'a1a1a1a1-0000-4000-8000-000000000001'
              AND d.kpi_date = '2026-03-03'),
          '3.3334 10.0000',
          'first batch: 3.33335 is stored as 3.3334 and 9.99999 as 10.0000 (4 decimals)');
SELECT is(pg_temp.kpi_rows('a2a2a2a2-0000-4000-8000-000000000002'),
          '[{"kpi_date": "2026-03-02", "platform": "google", "impressions": 0, "clicks": 0,
             "spend": 0, "conversions": 0, "revenue": 0, "source": "nightly-import"}]'::jsonb,
          'first batch: campaign A2 (named by an upper-case uuid) holds its all-zero row');
SELECT is(pg_temp.log_row('first batch'),
          '{"workspace_id": "aaaaaaaa-0000-4000-8000-000000000001",
            "job": "upsert_daily_kpi_batch", "period": "2026-03-01..2026-03-03",
            "status": "succeeded", "rows_affected": 4, "source": "nightly-import",
            "idempotency_key": null, "error": null, "finished": true}'::jsonb,
          'first batch: the collection_log row: job, period first..last date, status succeeded, '
          'rows_affected 4, source, the campaigns'' workspace, finished');

-- ===========================================================================================
-- The same figures again (other spelling): all unchanged, only a collection_log row
-- ===========================================================================================
CALL pg_temp.call('same figures again', $$
    SELECT upsert_daily_kpi_batch('[
        {"campaign_id": "a1a1a1a1-0000-4000-8000-000000000001", "kpi_date": "2026-03-01",
         "platform": "GOOGLE", "impressions": 1000, "clicks": 50.0, "spend": "12.5000",
         "conversions": 5, "revenue": 40.12350},
        {"campaign_id": "a1a1a1a1-0000-4000-8000-000000000001", "kpi_date": "2026-03-03",
         "platform": "google", "impressions": 500, "clicks": 10, "spend": "3.33335",
         "conversions": 1, "revenue": 10}]', 'other-source')
$$);
SELECT is(pg_temp.envelope('same figures again') - 'collection_log_id',
          '{"success": true, "error": null, "error_code": null, "retry_recommended": false,
            "upserted": 0, "inserted": 0, "updated": 0, "unchanged": 2,
            "first_date": "2026-03-01", "last_date": "2026-03-03", "replayed": false}'::jsonb,
          'same figures again: upserted 0, unchanged 2');
SELECT is(pg_temp.changes('same figures again'),
          '{"collection_log": {"rows_before": 2, "rows_after": 3}}'::jsonb,
          'same figures again: only the collection_log row is written (daily rows untouched, '
          'not even their source or updated_at)');
SELECT is(pg_temp.log_row('same figures again') - 'workspace_id' - 'source' - 'period',
          '{"job": "upsert_daily_kpi_batch", "status": "succeeded", "rows_affected": 0,
            "idempotency_key": null, "error": null, "finished": true}'::jsonb,
          'same figures again: the collection_log row says rows_affected 0');

-- ===========================================================================================
-- A mixed batch: unchanged, updated and inserted rows, two workspaces
-- ===========================================================================================
CREATE TEMP TABLE ctid_before AS
SELECT d.kpi_date, d.platform, d.ctid::text AS row_version FROM campaigndb.daily_kpi_data AS d
 WHERE d.campaign_id = 'a1a1a1a1-0000-4000-8000-000000000001';

CALL pg_temp.call('mixed batch', $$
    SELECT upsert_daily_kpi_batch('[
        {"campaign_id": "a1a1a1a1-0000-4000-8000-000000000001", "kpi_date": "2026-03-01",
         "platform": "google", "impressions": 1000, "clicks": 50, "spend": 12.5,
         "conversions": 5, "revenue": 40.1235},
        {"campaign_id": "a1a1a1a1-0000-4000-8000-000000000001", "kpi_date": "2026-03-01",
         "platform": " META", "impressions": 2000, "clicks": 41, "spend": 7.25,
         "conversions": 2, "revenue": 0},
        {"campaign_id": "a1a1a1a1-0000-4000-8000-000000000001", "kpi_date": "2026-03-04",
         "platform": "google", "impressions": 1e3, "clicks": 3, "spend": " 5.5 ",
         "conversions": 3.0, "revenue": 1.5e2},
        {"campaign_id": "b1b1b1b1-0000-4000-8000-000000000001", "kpi_date": "2026-02-28",
         "platform": "tiktok", "impressions": 999999999999999999, "clicks": 7, "spend": "9999999999.9999",
         "conversions": 0, "revenue": 0.00001}]', 'mixed')
$$);
SELECT is(pg_temp.envelope('mixed batch') - 'collection_log_id',
          '{"success": true, "error": null, "error_code": null, "retry_recommended": false,
            "upserted": 3, "inserted": 2, "updated": 1, "unchanged": 1,
            "first_date": "2026-02-28", "last_date": "2026-03-04", "replayed": false}'::jsonb,
          'mixed batch: one unchanged, one updated (clicks), two inserted');
SELECT is(pg_temp.rows_added('mixed batch'), '{"daily_kpi_data": 2, "collection_log": 1}'::jsonb,
          'mixed batch: two daily rows and one collection_log row added');
SELECT is(pg_temp.kpi_rows('a1a1a1a1-0000-4000-8000-000000000001'),
          '[{"kpi_date": "2026-03-01", "platform": "google", "impressions": 1000, "clicks": 50,
             "spend": 12.5, "conversions": 5, "revenue": 40.1235, "source": "nightly-import"},
            {"kpi_date": "2026-03-01", "platform": "meta", "impressions": 2000, "clicks": 41,
             "spend": 7.25, "conversions": 2, "revenue": 0, "source": "mixed"},
            {"kpi_date": "2026-03-03", "platform": "google", "impressions": 500, "clicks": 10,
             "spend": 3.3334, "conversions": 1, "revenue": 10, "source": "nightly-import"},
            {"kpi_date": "2026-03-04", "platform": "google", "impressions": 1000, "clicks": 3,
             "spend": 5.5, "conversions": 3, "revenue": 150, "source": "mixed"}]'::jsonb,
          'mixed batch: meta replaced (figures and source), the unchanged google row keeps its '
          'source, the new row stored (1e3, " 5.5 ", 3.0 and 1.5e2 read as numbers)');
SELECT is(ARRAY(SELECT d.kpi_date || ' ' || d.platform FROM campaigndb.daily_kpi_data AS d
                  JOIN ctid_before AS o ON (o.kpi_date, o.platform) = (d.kpi_date, d.platform)
                 WHERE d.campaign_id = 'a1a1a1a1-0000-4000-8000-000000000001'
                   AND d.ctid::text <> o.row_version
                 ORDER BY 1),
          ARRAY['2026-03-01 meta'],
          'mixed batch: only the updated row was rewritten');
SELECT is(pg_temp.kpi_rows('b1b1b1b1-0000-4000-8000-000000000001') -> 1,
          '{"kpi_date": "2026-02-28", "platform": "tiktok", "impressions": 999999999999999999,
            "clicks": 7, "spend": 9999999999.9999, "conversions": 0, "revenue": 0.0000,
            "source": "mixed"}'::jsonb,
          'mixed batch: the largest accepted count and spend are stored; revenue 0.00001 '
          'rounds to 0');
SELECT is(pg_temp.log_row('mixed batch'),
          '{"workspace_id": null, "job": "upsert_daily_kpi_batch",
            "period": "2026-02-28..2026-03-04", "status": "succeeded", "rows_affected": 3,
            "source": "mixed", "idempotency_key": null, "error": null, "finished": true}'::jsonb,
          'mixed batch: the collection_log row: rows_affected 3, no workspace (the batch '
          'spans two)');

-- ===========================================================================================
-- One day, edge values of dates and platforms
-- ===========================================================================================
CALL pg_temp.call('leap day', $$
    SELECT upsert_daily_kpi_batch(jsonb_build_array(
        jsonb_build_object('campaign_id', 'a2a2a2a2-0000-4000-8000-000000000002',
                           'kpi_date', '2024-02-29', 'platform', '  ' || repeat('X', 32) || ' ',
                           'impressions', 1, 'clicks', 1, 'spend', 0, 'conversions', 0,
                           'revenue', 0)), 'edge')
$$);
SELECT is(pg_temp.envelope('leap day') -> 'inserted', '1'::jsonb,
          'leap day: 2024-02-29 and a platform of 32 characters (after trimming) are accepted');
SELECT is((SELECT d.platform::text FROM campaigndb.daily_kpi_data AS d
            WHERE d.campaign_id = 'a2a2a2a2-0000-4000-8000-000000000002'
              AND d.kpi_date = '2024-02-29'),
          repeat('x', 32), 'leap day: the platform is stored trimmed and lower-cased');
SELECT is(pg_temp.log_row('leap day') ->> 'period', '2024-02-29',
          'leap day: a batch of one date logs that date as its period');

-- ===========================================================================================
-- An empty batch: nothing to save, the run is still logged
-- ===========================================================================================
CALL pg_temp.call('empty batch', $$SELECT upsert_daily_kpi_batch('[]', 'empty')$$);
SELECT is(pg_temp.envelope('empty batch') - 'collection_log_id',
          '{"success": true, "error": null, "error_code": null, "retry_recommended": false,
            "upserted": 0, "inserted": 0, "updated": 0, "unchanged": 0,
            "first_date": null, "last_date": null, "replayed": false}'::jsonb,
          'empty batch: success with zero counts and no dates');
SELECT is(pg_temp.rows_added('empty batch'), '{"collection_log": 1}'::jsonb,
          'empty batch: only its collection_log row is added');
SELECT is(pg_temp.log_row('empty batch'),
          '{"workspace_id": null, "job": "upsert_daily_kpi_batch", "period": null,
            "status": "succeeded", "rows_affected": 0, "source": "empty",
            "idempotency_key": null, "error": null, "finished": true}'::jsonb,
          'empty batch: the collection_log row has no period and rows_affected 0');

-- ===========================================================================================
-- Element shape: not an object, unknown key (22023); every key required (23502)
-- ===========================================================================================
SELECT * FROM pg_temp.fails_naming('an element that is a string',
    pg_temp.batch_call('"google"'), '22023', 'p_rows[2] must be an object');
SELECT * FROM pg_temp.fails_naming('an element that is null',
    pg_temp.batch_call('null'), '22023', 'p_rows[2] must be an object');
SELECT * FROM pg_temp.fails_naming('an element that is an array',
    pg_temp.batch_call(jsonb_build_array(pg_temp.kpi_row())), '22023', 'p_rows[2] must be an object');
SELECT * FROM pg_temp.fails_naming('an unknown key (spent)',
    pg_temp.batch_call(pg_temp.kpi_row('{"spent": 1}')), '22023', 'p_rows[2] has an unknown key ''spent''');

SELECT pg_temp.fails_naming('missing ' || k, pg_temp.batch_call(pg_temp.kpi_row() - k), '23502',
                            'p_rows[2].' || k || ' is required')
  FROM unnest(ARRAY['campaign_id', 'kpi_date', 'platform', 'impressions', 'clicks', 'spend',
                    'conversions', 'revenue']) AS k;
SELECT * FROM pg_temp.fails_naming('spend null',
    pg_temp.batch_call(pg_temp.kpi_row('{"spend": null}')), '23502', 'p_rows[2].spend is required');

-- ===========================================================================================
-- campaign_id: a string (22023) holding a uuid (22P02)
-- ===========================================================================================
SELECT * FROM pg_temp.fails_naming('campaign_id a number',
    pg_temp.batch_call(pg_temp.kpi_row('{"campaign_id": 42}')), '22023', 'p_rows[2].campaign_id');
SELECT * FROM pg_temp.fails_naming('campaign_id an object',
    pg_temp.batch_call(pg_temp.kpi_row('{"campaign_id": {"id": "a1a1a1a1-0000-4000-8000-000000000001"}}')),
    '22023', 'p_rows[2].campaign_id');
SELECT * FROM pg_temp.fails_naming('campaign_id not a uuid',
    pg_temp.batch_call(pg_temp.kpi_row('{"campaign_id": "campaign-a1"}')), '22P02', 'p_rows[2].campaign_id');
SELECT * FROM pg_temp.fails_naming('campaign_id one digit short',
    pg_temp.batch_call(pg_temp.kpi_row('{"campaign_id": "a1a1a1a1-0000-4000-8000-00000000001"}')),
    '22P02', 'p_rows[2].campaign_id');

-- ===========================================================================================
-- kpi_date: a string (22023) holding a real date YYYY-MM-DD (22007)
-- ===========================================================================================
SELECT * FROM pg_temp.fails_naming('kpi_date a number',
    pg_temp.batch_call(pg_temp.kpi_row('{"kpi_date": 20260320}')), '22023', 'p_rows[2].kpi_date');
SELECT pg_temp.fails_naming('kpi_date ' || d, pg_temp.batch_call(pg_temp.kpi_row(jsonb_build_object('kpi_date', d))),
                            '22007', 'p_rows[2].kpi_date')
  FROM unnest(ARRAY['2026-02-30', '2025-02-29', '2026-04-31', '2026-13-01', '2026-00-10',
                    '2026/03/20', '2026-3-20', '20-03-2026', '2026-03-20T00:00:00',
                    'yesterday', '']) AS d;

-- ===========================================================================================
-- platform: a string of 1 to 32 characters after trimming (22023)
-- ===========================================================================================
SELECT * FROM pg_temp.fails_naming('platform a number',
    pg_temp.batch_call(pg_temp.kpi_row('{"platform": 7}')), '22023', 'p_rows[2].platform');
SELECT * FROM pg_temp.fails_naming('platform empty',
    pg_temp.batch_call(pg_temp.kpi_row('{"platform": ""}')), '22023', 'p_rows[2].platform');
SELECT * FROM pg_temp.fails_naming('platform blank',
    pg_temp.batch_call(pg_temp.kpi_row('{"platform": "   "}')), '22023', 'p_rows[2].platform');
SELECT * FROM pg_temp.fails_naming('platform of 33 characters',
    pg_temp.batch_call(pg_temp.kpi_row(jsonb_build_object('platform', repeat('p', 33)))),
    '22023', 'p_rows[2].platform');

-- ===========================================================================================
-- Counts: whole JSON numbers >= 0 (22023); too large (22003)
-- ===========================================================================================
SELECT * FROM pg_temp.fails_naming('impressions -1',
    pg_temp.batch_call(pg_temp.kpi_row('{"impressions": -1}')), '22023', 'p_rows[2].impressions');
SELECT * FROM pg_temp.fails_naming('clicks 1.5',
    pg_temp.batch_call(pg_temp.kpi_row('{"clicks": 1.5}')), '22023', 'p_rows[2].clicks');
SELECT * FROM pg_temp.fails_naming('conversions "3" (a string)',
    pg_temp.batch_call(pg_temp.kpi_row('{"conversions": "3"}')), '22023', 'p_rows[2].conversions');
SELECT * FROM pg_temp.fails_naming('clicks true',
    pg_temp.batch_call(pg_temp.kpi_row('{"clicks": true}')), '22023', 'p_rows[2].clicks');
SELECT * FROM pg_temp.fails_naming('impressions 10^19',
    pg_temp.batch_call(pg_temp.kpi_row('{"impressions": 10000000000000000000}')), '22003',
    'p_rows[2].impressions');
SELECT * FROM pg_temp.fails_naming('conversions 1e30',
    pg_temp.batch_call(pg_temp.kpi_row('{"conversions": 1e30}')), '22003', 'p_rows[2].conversions');

-- ===========================================================================================
-- spend and revenue: numbers or numeric strings >= 0 (22023), below 10^10 (22003)
-- ===========================================================================================
SELECT * FROM pg_temp.fails_naming('spend -0.01',
    pg_temp.batch_call(pg_temp.kpi_row('{"spend": -0.01}')), '22023', 'p_rows[2].spend');
SELECT * FROM pg_temp.fails_naming('revenue "-5"',
    pg_temp.batch_call(pg_temp.kpi_row('{"revenue": "-5"}')), '22023', 'p_rows[2].revenue');
SELECT * FROM pg_temp.fails_naming('spend "NaN"',
    pg_temp.batch_call(pg_temp.kpi_row('{"spend": "NaN"}')), '22023', 'p_rows[2].spend');
SELECT * FROM pg_temp.fails_naming('revenue "Infinity"',
    pg_temp.batch_call(pg_temp.kpi_row('{"revenue": "Infinity"}')), '22023', 'p_rows[2].revenue');
SELECT * FROM pg_temp.fails_naming('spend "12 USD"',
    pg_temp.batch_call(pg_temp.kpi_row('{"spend": "12 USD"}')), '22023', 'p_rows[2].spend');
SELECT * FROM pg_temp.fails_naming('revenue an object',
    pg_temp.batch_call(pg_temp.kpi_row('{"revenue": {"amount": 1}}')), '22023', 'p_rows[2].revenue');
SELECT * FROM pg_temp.fails_naming('spend 1e10',
    pg_temp.batch_call(pg_temp.kpi_row('{"spend": 1e10}')), '22003', 'p_rows[2].spend');
SELECT * FROM pg_temp.fails_naming('revenue "123456789012"',
    pg_temp.batch_call(pg_temp.kpi_row('{"revenue": "123456789012"}')), '22003', 'p_rows[2].revenue');
-- 9999999999.99995 is below 10^10 but rounds to it: out of range all the same
SELECT * FROM pg_temp.fails_with('spend 9999999999.99995 (rounds to 10^10)',
    pg_temp.batch_call(pg_temp.kpi_row('{"spend": 9999999999.99995}')), '22003');

-- ===========================================================================================
-- The first bad element is named; one row per key (23505)
-- ===========================================================================================
SELECT * FROM pg_temp.fails_naming('two bad elements', $$
    SELECT upsert_daily_kpi_batch(jsonb_build_array(
        pg_temp.kpi_row(), pg_temp.kpi_row('{"platform": ""}'), pg_temp.kpi_row('{"clicks": -1}')),
        'validation')
$$, '22023', 'p_rows[1].platform');
SELECT ok(pg_temp.envelope('two bad elements') ->> 'error' NOT LIKE '%p\_rows[2]%',
          'two bad elements: only the first is named');
SELECT * FROM pg_temp.fails_naming('the same key twice (platform differs in case and spaces)', $$
    SELECT upsert_daily_kpi_batch(jsonb_build_array(
        pg_temp.kpi_row('{"platform": "bing"}'), pg_temp.kpi_row('{"platform": "Google"}'),
        pg_temp.kpi_row('{"platform": " google ", "clicks": 3}')), 'validation')
$$, '23505', 'p_rows[1] and p_rows[2]');
SELECT is(pg_temp.envelope('the same key twice (platform differs in case and spaces)')
              -> 'error_detail' -> 'constraint',
          '"daily_kpi_data_pkey"'::jsonb,
          'the same key twice: error_detail names the constraint daily_kpi_data_pkey');

-- ===========================================================================================
-- The call itself: p_rows shape and size, p_source, campaign, idempotency key
-- ===========================================================================================
SELECT * FROM pg_temp.fails_with('p_rows an object',
    format('SELECT upsert_daily_kpi_batch(%L, ''validation'')', pg_temp.kpi_row()), '22023');
SELECT * FROM pg_temp.fails_with('p_rows a string',
    $$SELECT upsert_daily_kpi_batch('"rows"', 'validation')$$, '22023');
SELECT * FROM pg_temp.fails_with('p_rows JSON null',
    $$SELECT upsert_daily_kpi_batch('null', 'validation')$$, '22023');
SELECT * FROM pg_temp.fails_with('p_rows NULL',
    $$SELECT upsert_daily_kpi_batch(NULL, 'validation')$$, '23502');
SELECT * FROM pg_temp.fails_with('10,001 elements (limit 10,000)', $$
    SELECT upsert_daily_kpi_batch(
        (SELECT jsonb_agg(pg_temp.kpi_row(jsonb_build_object(
                    'kpi_date', (DATE '2001-01-01' + g)::text)))
           FROM generate_series(1, 10001) AS g), 'validation')
$$, '54000');
SELECT * FROM pg_temp.fails_with('p_source NULL', format(
    'SELECT upsert_daily_kpi_batch(%L, NULL)', jsonb_build_array(pg_temp.kpi_row())), '23502');
SELECT * FROM pg_temp.fails_with('p_source blank', format(
    'SELECT upsert_daily_kpi_batch(%L, ''   '')', jsonb_build_array(pg_temp.kpi_row())), '23502');
SELECT * FROM pg_temp.fails_with('p_source of 101 characters', format(
    'SELECT upsert_daily_kpi_batch(%L, %L)', jsonb_build_array(pg_temp.kpi_row()), repeat('s', 101)),
    '22023');
SELECT * FROM pg_temp.fails_with('empty idempotency key', format(
    'SELECT upsert_daily_kpi_batch(%L, ''validation'', '''')', jsonb_build_array(pg_temp.kpi_row())),
    '22023');
SELECT * FROM pg_temp.fails_naming('unknown campaign',
    pg_temp.batch_call(pg_temp.kpi_row('{"campaign_id": "eeeeeeee-0000-4000-8000-00000000000e"}')),
    'P0002', 'eeeeeeee-0000-4000-8000-00000000000e');

-- ===========================================================================================
-- Idempotency: same key and parameters replay; same key, other parameters 23505
-- ===========================================================================================
CALL pg_temp.call('keyed batch', $$
    SELECT upsert_daily_kpi_batch(jsonb_build_array(
        pg_temp.kpi_row('{"kpi_date": "2026-03-05"}'), pg_temp.kpi_row('{"kpi_date": "2026-03-06"}')),
        'keyed', 'kpi-run-1')
$$);
CALL pg_temp.call('keyed replay', $$
    SELECT upsert_daily_kpi_batch(p_rows => jsonb_build_array(
        pg_temp.kpi_row('{"kpi_date": "2026-03-05"}'), pg_temp.kpi_row('{"kpi_date": "2026-03-06"}')),
        p_source => 'keyed', p_idempotency_key => 'kpi-run-1')
$$);
SELECT is(pg_temp.envelope('keyed batch') - 'collection_log_id',
          '{"success": true, "error": null, "error_code": null, "retry_recommended": false,
            "upserted": 2, "inserted": 2, "updated": 0, "unchanged": 0,
            "first_date": "2026-03-05", "last_date": "2026-03-06", "replayed": false}'::jsonb,
          'keyed batch: success, two rows inserted');
SELECT is(pg_temp.log_row('keyed batch') ->> 'idempotency_key', 'kpi-run-1',
          'keyed batch: the key is on its collection_log row');
SELECT is(pg_temp.envelope('keyed replay'),
          pg_temp.envelope('keyed batch') || '{"replayed": true}'::jsonb,
          'keyed replay: the first answer (same collection_log_id and counts), replayed true');
SELECT is(pg_temp.changes('keyed replay'), '{}'::jsonb,
          'keyed replay: nothing written (no daily row, no collection_log row)');
SELECT * FROM pg_temp.fails_with('same key, other figures', $$
    SELECT upsert_daily_kpi_batch(jsonb_build_array(
        pg_temp.kpi_row('{"kpi_date": "2026-03-05"}'),
        pg_temp.kpi_row('{"kpi_date": "2026-03-06", "clicks": 3}')), 'keyed', 'kpi-run-1')
$$, '23505');
SELECT is(pg_temp.envelope('same key, other figures') -> 'error_detail' -> 'constraint',
          '"collection_log_idempotency_key_key"'::jsonb,
          'same key, other figures: error_detail names the idempotency key constraint');
SELECT * FROM pg_temp.fails_with('same key, other source', $$
    SELECT upsert_daily_kpi_batch(jsonb_build_array(
        pg_temp.kpi_row('{"kpi_date": "2026-03-05"}'), pg_temp.kpi_row('{"kpi_date": "2026-03-06"}')),
        'other', 'kpi-run-1')
$$, '23505');

-- a key whose call failed was never stored: it is free for the corrected call
SELECT * FROM pg_temp.fails_with('keyed batch with a bad date', $$
    SELECT upsert_daily_kpi_batch(jsonb_build_array(pg_temp.kpi_row('{"kpi_date": "2026-03-32"}')),
                                  'keyed', 'kpi-run-2')
$$, '22007');
CALL pg_temp.call('same key, corrected batch', $$
    SELECT upsert_daily_kpi_batch(jsonb_build_array(pg_temp.kpi_row('{"kpi_date": "2026-03-07"}')),
                                  'keyed', 'kpi-run-2')
$$);
SELECT is(pg_temp.envelope('same key, corrected batch') -> 'replayed', 'false'::jsonb,
          'a key whose call failed is used by the corrected call (not a replay)');
SELECT is(pg_temp.rows_added('same key, corrected batch'),
          '{"daily_kpi_data": 1, "collection_log": 1}'::jsonb,
          'the corrected call saves its row and its collection_log row');

-- ===========================================================================================
-- Workspace binding (campaigndb.workspace_id)
-- ===========================================================================================
SET LOCAL campaigndb.workspace_id = 'bbbbbbbb-0000-4000-8000-000000000002';
SELECT * FROM pg_temp.fails_naming('bound to workspace B, rows of B1 and A1', $$
    SELECT upsert_daily_kpi_batch(jsonb_build_array(
        pg_temp.kpi_row('{"campaign_id": "b1b1b1b1-0000-4000-8000-000000000001"}'),
        pg_temp.kpi_row()), 'bound')
$$, '42501', 'campaign a1a1a1a1-0000-4000-8000-000000000001');
SELECT * FROM pg_temp.fails_with('bound to workspace B, rows of A2 only', $$
    SELECT upsert_daily_kpi_batch(jsonb_build_array(
        pg_temp.kpi_row('{"campaign_id": "a2a2a2a2-0000-4000-8000-000000000002"}')), 'bound')
$$, '42501');
SELECT * FROM pg_temp.fails_with('bound to workspace B, replay of workspace A''s keyed batch', $$
    SELECT upsert_daily_kpi_batch(jsonb_build_array(
        pg_temp.kpi_row('{"kpi_date": "2026-03-05"}'), pg_temp.kpi_row('{"kpi_date": "2026-03-06"}')),
        'keyed', 'kpi-run-1')
$$, '42501');
CALL pg_temp.call('bound to workspace B, rows of B1', $$
    SELECT upsert_daily_kpi_batch(jsonb_build_array(
        pg_temp.kpi_row('{"campaign_id": "b1b1b1b1-0000-4000-8000-000000000001"}')), 'bound')
$$);
SELECT is(pg_temp.envelope('bound to workspace B, rows of B1') -> 'inserted', '1'::jsonb,
          'bound to workspace B: a row of campaign B1 is saved');
SELECT is(pg_temp.log_row('bound to workspace B, rows of B1') ->> 'workspace_id',
          'bbbbbbbb-0000-4000-8000-000000000002',
          'bound to workspace B: the collection_log row belongs to workspace B');
CALL pg_temp.call('bound to workspace B, an empty batch', $$
    SELECT upsert_daily_kpi_batch('[]', 'bound')
$$);
SELECT is(pg_temp.log_row('bound to workspace B, an empty batch') ->> 'workspace_id',
          'bbbbbbbb-0000-4000-8000-000000000002',
          'bound to workspace B: an empty batch is logged for workspace B');

-- a setting that is not a uuid: 22023 in an envelope, like every bad input.  The call goes
-- through envelope_or_raised, so that raising instead fails these assertions (showing the
-- raised message) rather than aborting the file.
SET LOCAL campaigndb.workspace_id = 'not-a-uuid';
SELECT * FROM pg_temp.fails_with('garbage campaigndb.workspace_id',
    format('SELECT pg_temp.envelope_or_raised(%L)',
           format('SELECT upsert_daily_kpi_batch(%L, ''bound'')', jsonb_build_array(pg_temp.kpi_row()))),
    '22023');
SELECT is(pg_temp.envelope('garbage campaigndb.workspace_id') -> 'message', NULL,
          'garbage campaigndb.workspace_id: answered with an envelope, not raised');
RESET campaigndb.workspace_id;

-- ===========================================================================================
-- A failure at the collection_log row (injected by a trigger) saves no daily row either
-- ===========================================================================================
CREATE FUNCTION pg_temp.refuse_collection_log()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    RAISE EXCEPTION 'injected failure writing collection_log' USING ERRCODE = 'TE001';
END
$$;
CREATE TRIGGER refuse_collection_log BEFORE INSERT ON campaigndb.collection_log
    FOR EACH ROW EXECUTE FUNCTION pg_temp.refuse_collection_log();

-- a new row and a changed figure of a saved row (A1, 2026-03-01, meta: clicks 41 -> 42)
SELECT * FROM pg_temp.fails_with('collection_log insert fails', $$
    SELECT upsert_daily_kpi_batch(jsonb_build_array(
        pg_temp.kpi_row('{"kpi_date": "2026-03-08"}'),
        pg_temp.kpi_row('{"kpi_date": "2026-03-01", "platform": "meta", "impressions": 2000,
                          "clicks": 42, "spend": 7.25, "conversions": 2, "revenue": 0}')),
        'injected', 'kpi-run-injected')
$$, 'TE001');
SELECT is(pg_temp.envelope('collection_log insert fails') ->> 'error',
          'injected failure writing collection_log',
          'collection_log insert fails: the envelope carries the trigger''s message');
SELECT is((SELECT d.clicks FROM campaigndb.daily_kpi_data AS d
            WHERE d.campaign_id = 'a1a1a1a1-0000-4000-8000-000000000001'
              AND d.kpi_date = '2026-03-01' AND d.platform = 'meta'),
          41::bigint, 'collection_log insert fails: the saved row keeps its figures (clicks 41)');

DROP TRIGGER refuse_collection_log ON campaigndb.collection_log;
CALL pg_temp.call('the same batch without the trigger', $$
    SELECT upsert_daily_kpi_batch(jsonb_build_array(
        pg_temp.kpi_row('{"kpi_date": "2026-03-08"}'),
        pg_temp.kpi_row('{"kpi_date": "2026-03-01", "platform": "meta", "impressions": 2000,
                          "clicks": 42, "spend": 7.25, "conversions": 2, "revenue": 0}')),
        'injected', 'kpi-run-injected')
$$);
SELECT is(pg_temp.envelope('the same batch without the trigger') - 'collection_log_id',
          '{"success": true, "error": null, "error_code": null, "retry_recommended": false,
            "upserted": 2, "inserted": 1, "updated": 1, "unchanged": 0,
            "first_date": "2026-03-01", "last_date": "2026-03-08", "replayed": false}'::jsonb,
          'the same batch without the trigger: saved (its key was not used by the failed call)');

-- ===========================================================================================
-- A parameter that cannot be cast raises before the function runs (no envelope possible)
-- ===========================================================================================
SELECT throws_ok($$SELECT upsert_daily_kpi_batch(p_rows => '[{"campaign_id": ', p_source => 'x')$$,
                 '22P02', NULL,
                 'p_rows => malformed JSON raises 22P02 (cast failure before the call)');

-- ===========================================================================================
-- Normal use: 10,000 rows (the limit) in one call
-- ===========================================================================================
CALL pg_temp.call('10,000 rows', $$
    SELECT upsert_daily_kpi_batch(
        (SELECT jsonb_agg(pg_temp.kpi_row(jsonb_build_object(
                    'campaign_id', CASE WHEN g % 2 = 0 THEN 'a1a1a1a1-0000-4000-8000-000000000001'
                                        ELSE 'a2a2a2a2-0000-4000-8000-000000000002' END,
                    'kpi_date', (DATE '2000-01-01' + g / 2)::text, 'impressions', g)))
           FROM generate_series(0, 9999) AS g), 'bulk')
$$);
SELECT is(pg_temp.envelope('10,000 rows') - 'collection_log_id',
          '{"success": true, "error": null, "error_code": null, "retry_recommended": false,
            "upserted": 10000, "inserted": 10000, "updated": 0, "unchanged": 0,
            "first_date": "2000-01-01", "last_date": "2013-09-08", "replayed": false}'::jsonb,
          '10,000 rows: all inserted in one call');
SELECT is(pg_temp.rows_added('10,000 rows'), '{"daily_kpi_data": 10000, "collection_log": 1}'::jsonb,
          '10,000 rows: 10,000 daily rows and one collection_log row added');

SELECT * FROM finish();
ROLLBACK;
