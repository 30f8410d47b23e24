-- Reporting (KPI roll-up): what upsert_daily_kpi_batch and aggregate_monthly_kpis need on
-- collection_log to answer a retried call once (idempotency key, a hash of the request and
-- the first answer), and the source of each run.
ALTER TABLE campaigndb.collection_log
    ADD COLUMN source text CONSTRAINT collection_log_source_check
        CHECK (source IS NULL OR length(source) BETWEEN 1 AND 100),
    ADD COLUMN idempotency_key text CONSTRAINT collection_log_idempotency_key_key UNIQUE
        CONSTRAINT collection_log_idempotency_key_check
        CHECK (idempotency_key IS NULL OR length(idempotency_key) BETWEEN 1 AND 200),
    ADD COLUMN request_hash text,
    ADD COLUMN result jsonb;
COMMENT ON COLUMN campaigndb.collection_log.request_hash IS
    'md5 of the call''s parameters: a retry with the same idempotency key must match it';
COMMENT ON COLUMN campaigndb.collection_log.result IS
    'the success fields of the call that wrote this row, answered again on a replay';
