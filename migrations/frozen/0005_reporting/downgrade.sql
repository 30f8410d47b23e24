-- Remove everything revision 0005_reporting created.
DROP FUNCTION IF EXISTS public.aggregate_monthly_kpis(date, uuid, text);
DROP FUNCTION IF EXISTS public.upsert_daily_kpi_batch(jsonb, text, text);
ALTER TABLE campaigndb.collection_log
    DROP COLUMN IF EXISTS result,
    DROP COLUMN IF EXISTS request_hash,
    DROP COLUMN IF EXISTS idempotency_key,
    DROP COLUMN IF EXISTS source;
