-- source: sql/schema/00_roles.sql
-- Roles of CONTRACT.md section 4.  Roles are cluster-wide, so creation is idempotent and
-- the roles are never dropped while another database still grants them something.
--   campaigndb_app       EXECUTE on the API functions, nothing else
--   campaigndb_readonly  EXECUTE on the read functions only
DO $roles$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'campaigndb_app') THEN
        CREATE ROLE campaigndb_app NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'campaigndb_readonly') THEN
        CREATE ROLE campaigndb_readonly NOLOGIN;
    END IF;
END
$roles$;

-- Tables and internal helpers live in their own schema; the API functions live in public.
CREATE SCHEMA campaigndb;
REVOKE ALL ON SCHEMA campaigndb FROM PUBLIC;
COMMENT ON SCHEMA campaigndb IS 'campaigndb tables and internal helpers; the API is in public';

-- source: sql/schema/10_tables.sql
-- Tables of CONTRACT.md section 2.  Every row belongs to a workspace, directly or through
-- its campaign.  Check constraints carry the value rules so that a caller writing through
-- any path gets 23514 / 23502 rather than bad data.

CREATE TABLE campaigndb.workspaces (
    id          uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    name        text        NOT NULL CONSTRAINT workspaces_name_check
                            CHECK (length(btrim(name)) BETWEEN 1 AND 200),
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- fillfactor leaves room on each page so that the frequent total updates stay HOT (no new
-- index entries): under SERIALIZABLE a non-HOT update would write into the primary key's
-- leaf pages, which every concurrent caller has read, and make unrelated campaigns conflict.
CREATE TABLE campaigndb.campaigns (
    id                       uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    workspace_id             uuid        NOT NULL REFERENCES campaigndb.workspaces (id)
                                         ON DELETE CASCADE,
    name                     text        NOT NULL CONSTRAINT campaigns_name_check
                                         CHECK (length(btrim(name)) BETWEEN 1 AND 200),
    status                   text        NOT NULL DEFAULT 'draft' CONSTRAINT campaigns_status_check
                                         CHECK (status IN ('draft', 'active', 'paused',
                                                           'completed', 'failed', 'archived')),
    search_query             text,
    location                 text,
    keywords                 text[]      NOT NULL DEFAULT '{}',
    settings                 jsonb       NOT NULL DEFAULT '{}' CONSTRAINT campaigns_settings_check
                                         CHECK (jsonb_typeof(settings) = 'object'),
    total_cost               numeric     NOT NULL DEFAULT 0 CONSTRAINT campaigns_total_cost_check
                                         CHECK (total_cost >= 0),
    total_businesses         integer     NOT NULL DEFAULT 0 CHECK (total_businesses >= 0),
    total_emails             integer     NOT NULL DEFAULT 0 CHECK (total_emails >= 0),
    total_facebook_pages     integer     NOT NULL DEFAULT 0 CHECK (total_facebook_pages >= 0),
    total_linkedin_profiles  integer     NOT NULL DEFAULT 0 CHECK (total_linkedin_profiles >= 0),
    -- sha256 of the creating call's normalised input: an idempotent repeat compares it
    creation_fingerprint     bytea,
    created_at               timestamptz NOT NULL DEFAULT now(),
    updated_at               timestamptz NOT NULL DEFAULT now()
) WITH (fillfactor = 70);
CREATE INDEX campaigns_workspace_id_idx ON campaigndb.campaigns (workspace_id);

CREATE TABLE campaigndb.gmaps_campaign_coverage (
    campaign_id       uuid        NOT NULL REFERENCES campaigndb.campaigns (id) ON DELETE CASCADE,
    zip_code          varchar(16) NOT NULL,
    status            text        NOT NULL DEFAULT 'pending'
                                  CONSTRAINT gmaps_campaign_coverage_status_check
                                  CHECK (status IN ('pending', 'scraping', 'completed', 'failed',
                                                    'skipped')),
    businesses_found  integer     NOT NULL DEFAULT 0 CHECK (businesses_found >= 0),
    emails_found      integer     NOT NULL DEFAULT 0 CHECK (emails_found >= 0),
    estimated_cost    numeric     CHECK (estimated_cost >= 0),
    actual_cost       numeric     CHECK (actual_cost >= 0),
    scraped_at        timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT gmaps_campaign_coverage_pkey PRIMARY KEY (campaign_id, zip_code)
);

CREATE TABLE campaigndb.gmaps_businesses (
    id                         uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    campaign_id                uuid        NOT NULL REFERENCES campaigndb.campaigns (id)
                                           ON DELETE CASCADE,
    zip_code                   varchar(16),
    place_id                   text        NOT NULL CHECK (length(place_id) BETWEEN 1 AND 512),
    name                       text        NOT NULL,
    address                    text,
    city                       text,
    state                      text,
    phone                      text,
    website                    text,
    category                   text,
    rating                     numeric(3, 2) CHECK (rating BETWEEN 0 AND 5),
    reviews_count              integer     CHECK (reviews_count >= 0),
    latitude                   double precision CHECK (latitude BETWEEN -90 AND 90),
    longitude                  double precision CHECK (longitude BETWEEN -180 AND 180),
    email                      text,
    email_source               text,
    facebook_url               text,
    linkedin_url               text,
    facebook_data              jsonb,
    linkedin_data              jsonb,
    facebook_enriched_at       timestamptz,
    linkedin_enriched_at       timestamptz,
    email_verification_status  text        NOT NULL DEFAULT 'unverified'
                               CONSTRAINT gmaps_businesses_email_verification_status_check
                               CHECK (email_verification_status IN
                                      ('unverified', 'valid', 'invalid', 'risky', 'unknown',
                                       'catch_all', 'disposable')),
    email_verification_data    jsonb,
    email_verified_at          timestamptz,
    raw_data                   jsonb,
    created_at                 timestamptz NOT NULL DEFAULT now(),
    updated_at                 timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT gmaps_businesses_campaign_place_key UNIQUE (campaign_id, place_id)
);

CREATE TABLE campaigndb.gmaps_api_costs (
    id               uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    campaign_id      uuid        NOT NULL REFERENCES campaigndb.campaigns (id) ON DELETE CASCADE,
    service          varchar(64) NOT NULL CHECK (length(btrim(service)) > 0),
    items_processed  integer     NOT NULL CHECK (items_processed >= 0),
    cost_usd         numeric     NOT NULL CONSTRAINT gmaps_api_costs_cost_usd_check
                                 CHECK (cost_usd >= 0),
    metadata         jsonb       NOT NULL DEFAULT '{}',
    -- a caller's idempotency key: a repeat with the same key never adds the cost twice
    idempotency_key  text        CONSTRAINT gmaps_api_costs_idempotency_key_key UNIQUE
                                 CHECK (length(idempotency_key) BETWEEN 1 AND 200),
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX gmaps_api_costs_campaign_id_idx ON campaigndb.gmaps_api_costs (campaign_id);

CREATE TABLE campaigndb.workspace_n8n_workflows (
    id                 uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    workspace_id       uuid        NOT NULL REFERENCES campaigndb.workspaces (id) ON DELETE CASCADE,
    n8n_workflow_id    text        NOT NULL CHECK (length(btrim(n8n_workflow_id)) BETWEEN 1 AND 200),
    name               text        NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 200),
    campaign_type      text        NOT NULL CONSTRAINT workspace_n8n_workflows_campaign_type_check
                                   CHECK (campaign_type IN ('email', 'linkedin', 'sms', 'gmaps',
                                                            'facebook', 'multichannel')),
    deployment_status  text        NOT NULL DEFAULT 'active'
                                   CONSTRAINT workspace_n8n_workflows_deployment_status_check
                                   CHECK (deployment_status IN ('active', 'inactive', 'paused',
                                                                'deploying', 'failed', 'archived')),
    total_executions   integer     NOT NULL DEFAULT 0 CHECK (total_executions >= 0),
    last_executed_at   timestamptz,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT workspace_n8n_workflows_workspace_n8n_key UNIQUE (workspace_id, n8n_workflow_id)
) WITH (fillfactor = 70);
CREATE INDEX workspace_n8n_workflows_active_idx
    ON campaigndb.workspace_n8n_workflows (workspace_id, deployment_status);

CREATE TABLE campaigndb.n8n_campaign_executions (
    id                            uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    workspace_id                  uuid        NOT NULL REFERENCES campaigndb.workspaces (id)
                                              ON DELETE CASCADE,
    workspace_n8n_workflow_id     uuid        NOT NULL
                                              REFERENCES campaigndb.workspace_n8n_workflows (id)
                                              ON DELETE CASCADE,
    campaign_approval_session_id  uuid,
    campaign_name                 text        NOT NULL,
    campaign_type                 text        NOT NULL
                                  CONSTRAINT n8n_campaign_executions_campaign_type_check
                                  CHECK (campaign_type IN ('email', 'linkedin', 'sms', 'gmaps',
                                                           'facebook', 'multichannel')),
    execution_status              text        NOT NULL DEFAULT 'pending'
                                  CONSTRAINT n8n_campaign_executions_execution_status_check
                                  CHECK (execution_status IN ('pending', 'running', 'completed',
                                                              'failed')),
    execution_config              jsonb       NOT NULL DEFAULT '{}',
    result                        jsonb,
    started_at                    timestamptz NOT NULL DEFAULT now(),
    completed_at                  timestamptz,
    duration_ms                   integer     CHECK (duration_ms >= 0),
    error_message                 text,
    created_at                    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX n8n_campaign_executions_workspace_status_idx
    ON campaigndb.n8n_campaign_executions (workspace_id, execution_status, created_at DESC);
CREATE INDEX n8n_campaign_executions_workflow_idx
    ON campaigndb.n8n_campaign_executions (workspace_n8n_workflow_id);

CREATE TABLE campaigndb.workflow_deployment_history (
    id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id  uuid        NOT NULL REFERENCES campaigndb.workspaces (id) ON DELETE CASCADE,
    workflow_id   uuid        REFERENCES campaigndb.workspace_n8n_workflows (id) ON DELETE CASCADE,
    execution_id  uuid        REFERENCES campaigndb.n8n_campaign_executions (id) ON DELETE CASCADE,
    event_type    text        NOT NULL CHECK (length(event_type) BETWEEN 1 AND 64),
    details       jsonb       NOT NULL DEFAULT '{}',
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX workflow_deployment_history_workspace_idx
    ON campaigndb.workflow_deployment_history (workspace_id, created_at DESC);
CREATE INDEX workflow_deployment_history_execution_idx
    ON campaigndb.workflow_deployment_history (execution_id);
CREATE INDEX workflow_deployment_history_workflow_idx
    ON campaigndb.workflow_deployment_history (workflow_id);

CREATE TABLE campaigndb.daily_kpi_data (
    campaign_id  uuid          NOT NULL REFERENCES campaigndb.campaigns (id) ON DELETE CASCADE,
    kpi_date     date          NOT NULL,
    platform     varchar(32)   NOT NULL CHECK (length(btrim(platform)) > 0),
    impressions  bigint        NOT NULL DEFAULT 0 CHECK (impressions >= 0),
    clicks       bigint        NOT NULL DEFAULT 0 CHECK (clicks >= 0),
    spend        numeric(14,4) NOT NULL DEFAULT 0 CHECK (spend >= 0),
    conversions  bigint        NOT NULL DEFAULT 0 CHECK (conversions >= 0),
    revenue      numeric(14,4) NOT NULL DEFAULT 0 CHECK (revenue >= 0),
    source       text,
    updated_at   timestamptz   NOT NULL DEFAULT now(),
    CONSTRAINT daily_kpi_data_pkey PRIMARY KEY (campaign_id, kpi_date, platform)
);
CREATE INDEX daily_kpi_data_kpi_date_idx ON campaigndb.daily_kpi_data (kpi_date);

CREATE TABLE campaigndb.campaign_summaries (
    campaign_id      uuid          NOT NULL REFERENCES campaigndb.campaigns (id) ON DELETE CASCADE,
    period_type      text          NOT NULL CONSTRAINT campaign_summaries_period_type_check
                                   CHECK (period_type IN ('month')),
    period_start     date          NOT NULL,
    impressions      bigint        NOT NULL DEFAULT 0,
    clicks           bigint        NOT NULL DEFAULT 0,
    spend            numeric(16,4) NOT NULL DEFAULT 0,
    conversions      bigint        NOT NULL DEFAULT 0,
    revenue          numeric(16,4) NOT NULL DEFAULT 0,
    ctr              numeric,
    cpc              numeric,
    conversion_rate  numeric,
    roas             numeric,
    days_reported    integer       NOT NULL DEFAULT 0,
    computed_at      timestamptz   NOT NULL DEFAULT now(),
    CONSTRAINT campaign_summaries_pkey PRIMARY KEY (campaign_id, period_type, period_start)
);

CREATE TABLE campaigndb.collection_log (
    id             bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id   uuid        REFERENCES campaigndb.workspaces (id) ON DELETE CASCADE,
    job            text        NOT NULL CHECK (length(job) BETWEEN 1 AND 100),
    period         text,
    status         text        NOT NULL CONSTRAINT collection_log_status_check
                               CHECK (status IN ('running', 'succeeded', 'failed')),
    rows_affected  integer     NOT NULL DEFAULT 0 CHECK (rows_affected >= 0),
    started_at     timestamptz NOT NULL DEFAULT now(),
    finished_at    timestamptz,
    error          text
);
CREATE INDEX collection_log_job_idx ON campaigndb.collection_log (job, started_at DESC);

-- No foreign key on campaign_id, on purpose: its check would take a KEY SHARE lock on the
-- campaign row for every measurement, turning the hottest rows' locks into multixacts and
-- slowing the very calls being measured (about 10 % in make bench).  The recording
-- functions check that the campaign exists instead.
CREATE TABLE campaigndb.transaction_metrics (
    id               uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    operation_name   varchar(255) NOT NULL,
    campaign_id      uuid,
    duration_ms      integer     NOT NULL CHECK (duration_ms >= 0),
    success          boolean     NOT NULL,
    error_message    text,
    retry_count      integer     NOT NULL DEFAULT 0 CHECK (retry_count >= 0),
    isolation_level  varchar(50),
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX transaction_metrics_operation_idx
    ON campaigndb.transaction_metrics (operation_name, created_at DESC);
CREATE INDEX transaction_metrics_campaign_idx ON campaigndb.transaction_metrics (campaign_id);

-- source: sql/schema/20_error_codes.sql
-- The one SQLSTATE table shared by SQL and Python (CONTRACT.md section 1).
-- The envelope helper reads retry_recommended / retry_after_ms from here; the Python
-- client keeps the same table in campaigndb/sqlstates.py and a test requires them equal.
-- raised_in: 'function' = a function answers it in its envelope;
--            'propagated' = never caught in SQL, the client turns it into an envelope;
--            'client' = seen only by the client (connection level).
CREATE TABLE campaigndb.error_codes (
    sqlstate           char(5) PRIMARY KEY CHECK (sqlstate ~ '^[0-9A-Z]{5}$'),
    condition_name     text    NOT NULL,
    retry_recommended  boolean NOT NULL,
    retry_after_ms     integer CHECK (retry_after_ms >= 0),
    raised_in          text    NOT NULL CHECK (raised_in IN ('function', 'propagated', 'client')),
    meaning            text    NOT NULL
);

INSERT INTO campaigndb.error_codes
    (sqlstate, condition_name, retry_recommended, retry_after_ms, raised_in, meaning)
VALUES
    ('22023', 'invalid_parameter_value',       false, NULL, 'function',   'invalid input value'),
    ('22P02', 'invalid_text_representation',   false, NULL, 'function',   'bad text representation'),
    ('22003', 'numeric_value_out_of_range',    false, NULL, 'function',   'value out of range'),
    ('22007', 'invalid_datetime_format',       false, NULL, 'function',   'bad date or time'),
    ('23502', 'not_null_violation',            false, NULL, 'function',   'required value missing'),
    ('23503', 'foreign_key_violation',         false, NULL, 'function',   'referenced row does not exist'),
    ('23505', 'unique_violation',              false, NULL, 'function',   'duplicate, or an idempotency key reused with different parameters'),
    ('23514', 'check_violation',               false, NULL, 'function',   'check constraint (e.g. unknown campaign type)'),
    ('P0002', 'no_data_found',                 false, NULL, 'function',   'the named object does not exist'),
    ('55000', 'object_not_in_prerequisite_state', false, NULL, 'function', 'object not in the required state'),
    ('54000', 'program_limit_exceeded',        false, NULL, 'function',   'batch larger than the documented limit'),
    ('42501', 'insufficient_privilege',        false, NULL, 'function',   'caller may not act on that workspace'),
    ('40001', 'serialization_failure',         true,  10,   'propagated', 'serialization failure: retry the whole transaction'),
    ('40P01', 'deadlock_detected',             true,  10,   'propagated', 'deadlock detected: retry the whole transaction'),
    ('55P03', 'lock_not_available',            true,  50,   'function',   'lock not available (NOWAIT)'),
    ('57014', 'query_canceled',                true,  100,  'propagated', 'statement timeout or cancelled'),
    ('08000', 'connection_exception',          true,  100,  'client',     'connection problem'),
    ('08001', 'sqlclient_unable_to_establish_sqlconnection', true, 100, 'client', 'could not connect'),
    ('08003', 'connection_does_not_exist',     true,  100,  'client',     'connection does not exist'),
    ('08004', 'sqlserver_rejected_establishment_of_sqlconnection', true, 100, 'client', 'server rejected the connection'),
    ('08006', 'connection_failure',            true,  100,  'client',     'connection lost'),
    ('08007', 'transaction_resolution_unknown', true, 100,  'client',     'connection lost during COMMIT'),
    ('53300', 'too_many_connections',          true,  500,  'client',     'server at max_connections'),
    ('57P01', 'admin_shutdown',                true,  500,  'client',     'server shutting down'),
    ('57P02', 'crash_shutdown',                true,  500,  'client',     'server crashed'),
    ('57P03', 'cannot_connect_now',            true,  500,  'client',     'server not yet accepting connections');

-- source: sql/schema/30_row_level_security.sql
-- Row level security on every table, with workspace policies (CONTRACT.md section 4).
-- The binding is the session setting campaigndb.workspace_id: unset, a role with table
-- privileges sees every row; set, it sees only that workspace's rows.  The API functions
-- are SECURITY DEFINER and owned by the table owner, so RLS does not slow them: they check
-- the same binding explicitly (42501) before they read or write.
DO $rls$
DECLARE
    v_bound constant text :=
        $$NULLIF(pg_catalog.current_setting('campaigndb.workspace_id', true), '')$$;
    v_table text;
BEGIN
    -- tables that carry their workspace (workspaces itself: its id)
    FOREACH v_table IN ARRAY ARRAY['workspaces', 'campaigns', 'workspace_n8n_workflows',
                                   'n8n_campaign_executions', 'workflow_deployment_history',
                                   'collection_log']
    LOOP
        EXECUTE format('ALTER TABLE campaigndb.%I ENABLE ROW LEVEL SECURITY', v_table);
        EXECUTE format(
            'CREATE POLICY workspace_isolation ON campaigndb.%I USING (%s IS NULL OR %I = %s::uuid)',
            v_table, v_bound,
            CASE v_table WHEN 'workspaces' THEN 'id' ELSE 'workspace_id' END, v_bound);
    END LOOP;
    -- tables that belong to a workspace through their campaign
    FOREACH v_table IN ARRAY ARRAY['gmaps_campaign_coverage', 'gmaps_businesses',
                                   'gmaps_api_costs', 'daily_kpi_data', 'campaign_summaries',
                                   'transaction_metrics']
    LOOP
        EXECUTE format('ALTER TABLE campaigndb.%I ENABLE ROW LEVEL SECURITY', v_table);
        EXECUTE format(
            'CREATE POLICY workspace_isolation ON campaigndb.%I USING (%s IS NULL OR EXISTS '
            '(SELECT 1 FROM campaigndb.campaigns c WHERE c.id = campaign_id '
            'AND c.workspace_id = %s::uuid))',
            v_table, v_bound, v_bound);
    END LOOP;
END
$rls$;

-- The SQLSTATE table is reference data, the same for every workspace.
ALTER TABLE campaigndb.error_codes ENABLE ROW LEVEL SECURITY;
CREATE POLICY readable_by_all ON campaigndb.error_codes FOR SELECT USING (true);

-- source: sql/functions/envelope_ok.sql
-- campaigndb.envelope_ok: the success envelope of CONTRACT.md section 1, with the calling
-- function's own fields merged in.  Pure, so PL/pgSQL callers can inline it.
CREATE OR REPLACE FUNCTION campaigndb.envelope_ok(p_fields jsonb DEFAULT '{}')
RETURNS jsonb
LANGUAGE sql
IMMUTABLE
PARALLEL SAFE
AS $function$
    SELECT pg_catalog.jsonb_build_object('success', true, 'error', NULL, 'error_code', NULL,
                                         'retry_recommended', false)
           OPERATOR(pg_catalog.||) COALESCE(p_fields, '{}'::jsonb)
$function$;

REVOKE ALL ON FUNCTION campaigndb.envelope_ok(jsonb) FROM PUBLIC;

-- source: sql/functions/envelope_error.sql
-- campaigndb.envelope_error: the failure envelope of CONTRACT.md section 1, built from the
-- diagnostics a function's handler read with GET STACKED DIAGNOSTICS.  This is the one
-- place that decides retry_recommended / retry_after_ms, from campaigndb.error_codes (the
-- SQLSTATE table the Python client is tested against).  Unknown SQLSTATEs are not retried.
CREATE OR REPLACE FUNCTION campaigndb.envelope_error(
    p_sqlstate    text,
    p_message     text,
    p_detail      text DEFAULT NULL,
    p_hint        text DEFAULT NULL,
    p_constraint  text DEFAULT NULL,
    p_column      text DEFAULT NULL,
    p_table       text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql
STABLE
AS $function$
DECLARE
    v_retry        boolean;
    v_retry_after  integer;
    v_envelope     jsonb;
    v_detail       jsonb;
BEGIN
    SELECT e.retry_recommended, e.retry_after_ms
      INTO v_retry, v_retry_after
      FROM campaigndb.error_codes AS e
     WHERE e.sqlstate = p_sqlstate;

    v_envelope := pg_catalog.jsonb_build_object(
        'success', false,
        'error', COALESCE(p_message, 'unknown error'),
        'error_code', p_sqlstate,
        'retry_recommended', COALESCE(v_retry, false));
    IF v_retry THEN
        v_envelope := v_envelope
            OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('retry_after_ms', v_retry_after);
    END IF;

    v_detail := pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
        'constraint', NULLIF(p_constraint, ''),
        'column', NULLIF(p_column, ''),
        'table', NULLIF(p_table, ''),
        -- a failing row's detail can carry a whole batch element: keep the start of it
        'detail', NULLIF(pg_catalog.left(p_detail, 500), ''),
        'hint', NULLIF(p_hint, '')));
    IF v_detail OPERATOR(pg_catalog.<>) '{}'::jsonb THEN
        v_envelope := v_envelope
            OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('error_detail', v_detail);
    END IF;
    RETURN v_envelope;
END
$function$;

REVOKE ALL ON FUNCTION campaigndb.envelope_error(text, text, text, text, text, text, text)
    FROM PUBLIC;

-- source: sql/functions/bound_workspace_id.sql
-- campaigndb.bound_workspace_id: the workspace this session is bound to
-- (setting campaigndb.workspace_id), or NULL when unbound.  A setting that is not a uuid is
-- refused with 22023 rather than silently ignored: ignoring it would unbind the session.
CREATE OR REPLACE FUNCTION campaigndb.bound_workspace_id()
RETURNS uuid
LANGUAGE plpgsql
STABLE
AS $function$
DECLARE
    v_setting text := NULLIF(pg_catalog.current_setting('campaigndb.workspace_id', true), '');
BEGIN
    IF v_setting IS NULL THEN
        RETURN NULL;
    END IF;
    IF v_setting OPERATOR(pg_catalog.!~)
       '^[0-9A-Fa-f]{8}-?([0-9A-Fa-f]{4}-?){3}[0-9A-Fa-f]{12}$' THEN
        RAISE EXCEPTION 'campaigndb.workspace_id is set to %, which is not a uuid',
                        pg_catalog.quote_literal(v_setting)
              USING ERRCODE = '22023',
                    HINT = 'SET campaigndb.workspace_id to a workspace uuid, or RESET it';
    END IF;
    RETURN v_setting::uuid;
END
$function$;

REVOKE ALL ON FUNCTION campaigndb.bound_workspace_id() FROM PUBLIC;

-- source: sql/functions/assert_workspace_access.sql
-- campaigndb.assert_workspace_access: raise 42501 when the session is bound to a workspace
-- (campaigndb.workspace_id) other than p_workspace_id.  p_object names the object for the
-- message ("campaign 3f..."), without revealing which workspace owns it.
CREATE OR REPLACE FUNCTION campaigndb.assert_workspace_access(p_workspace_id uuid, p_object text)
RETURNS void
LANGUAGE plpgsql
STABLE
AS $function$
DECLARE
    v_bound uuid := campaigndb.bound_workspace_id();
BEGIN
    IF v_bound IS NOT NULL AND v_bound OPERATOR(pg_catalog.<>) p_workspace_id THEN
        RAISE EXCEPTION '% belongs to another workspace than the one this session is bound to',
                        p_object
              USING ERRCODE = '42501',
                    HINT = 'campaigndb.workspace_id limits this session to one workspace';
    END IF;
END
$function$;

REVOKE ALL ON FUNCTION campaigndb.assert_workspace_access(uuid, text) FROM PUBLIC;

-- source: sql/functions/json_text.sql
-- campaigndb.json_text: read p_doc->p_key as text with a clear error when it is the wrong
-- type (22023), missing while required (23502) or longer than p_max_length (22023).
-- p_label names the field in messages, e.g. 'p_campaign_data.name'.
CREATE OR REPLACE FUNCTION campaigndb.json_text(
    p_doc         jsonb,
    p_key         text,
    p_label       text,
    p_required    boolean DEFAULT false,
    p_max_length  integer DEFAULT 10000)
RETURNS text
LANGUAGE plpgsql
IMMUTABLE
AS $function$
DECLARE
    v_value  jsonb := p_doc OPERATOR(pg_catalog.->) p_key;
    v_text   text;
BEGIN
    IF v_value IS NULL OR pg_catalog.jsonb_typeof(v_value) OPERATOR(pg_catalog.=) 'null' THEN
        IF p_required THEN
            RAISE EXCEPTION '% is required', p_label
                  USING ERRCODE = '23502', COLUMN = p_key;
        END IF;
        RETURN NULL;
    END IF;
    IF pg_catalog.jsonb_typeof(v_value) OPERATOR(pg_catalog.<>) 'string' THEN
        RAISE EXCEPTION '% must be a string, got %', p_label, pg_catalog.jsonb_typeof(v_value)
              USING ERRCODE = '22023', COLUMN = p_key;
    END IF;
    v_text := v_value OPERATOR(pg_catalog.#>>) '{}'::text[];
    IF p_required AND v_text OPERATOR(pg_catalog.~) '^\s*$' THEN
        RAISE EXCEPTION '% must not be empty', p_label
              USING ERRCODE = '23502', COLUMN = p_key;
    END IF;
    IF pg_catalog.length(v_text) OPERATOR(pg_catalog.>) p_max_length THEN
        RAISE EXCEPTION '% is longer than % characters', p_label, p_max_length
              USING ERRCODE = '22023', COLUMN = p_key;
    END IF;
    RETURN v_text;
END
$function$;

REVOKE ALL ON FUNCTION campaigndb.json_text(jsonb, text, text, boolean, integer) FROM PUBLIC;

-- source: sql/functions/json_uuid.sql
-- campaigndb.json_uuid: read p_doc->p_key as a uuid: 23502 when required and missing,
-- 22023 when not a string, 22P02 when the string is not a uuid.
CREATE OR REPLACE FUNCTION campaigndb.json_uuid(
    p_doc       jsonb,
    p_key       text,
    p_label     text,
    p_required  boolean DEFAULT false)
RETURNS uuid
LANGUAGE plpgsql
IMMUTABLE
AS $function$
DECLARE
    v_text text := campaigndb.json_text(p_doc, p_key, p_label, p_required, 64);
BEGIN
    IF v_text IS NULL THEN
        RETURN NULL;
    END IF;
    IF v_text OPERATOR(pg_catalog.!~)
       '^[0-9A-Fa-f]{8}-?([0-9A-Fa-f]{4}-?){3}[0-9A-Fa-f]{12}$' THEN
        RAISE EXCEPTION '% is not a uuid: %', p_label, pg_catalog.quote_literal(v_text)
              USING ERRCODE = '22P02', COLUMN = p_key;
    END IF;
    RETURN v_text::uuid;
END
$function$;

REVOKE ALL ON FUNCTION campaigndb.json_uuid(jsonb, text, text, boolean) FROM PUBLIC;

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
    PERFORM campaigndb.bound_workspace_id();  -- a garbage binding is refused (22023)
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
-- Idempotency: p_campaign_data.id; a repeat with the same id and the same input returns the
-- first result with replayed: true; same id, other input: 23505.
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

    INSERT INTO campaigndb.campaigns
           (id, workspace_id, name, status, search_query, location, keywords, settings,
            creation_fingerprint)
    VALUES (COALESCE(v_campaign_id, gen_random_uuid()), v_workspace_id, v_name,
            COALESCE(campaigndb.json_text(p_campaign_data, 'status', 'p_campaign_data.status',
                                          false, 32), 'draft'),
            campaigndb.json_text(p_campaign_data, 'search_query', 'p_campaign_data.search_query'),
            campaigndb.json_text(p_campaign_data, 'location', 'p_campaign_data.location'),
            COALESCE(v_keywords, '{}'), v_settings, v_fingerprint)
    ON CONFLICT (id) DO NOTHING
    RETURNING id INTO v_campaign_id;

    IF NOT FOUND THEN
        -- the id exists: a replay when the input is the same
        v_campaign_id := campaigndb.json_uuid(p_campaign_data, 'id', 'p_campaign_data.id');
        SELECT c.creation_fingerprint, c.workspace_id INTO v_prior
          FROM campaigndb.campaigns AS c WHERE c.id = v_campaign_id;
        PERFORM campaigndb.assert_workspace_access(v_prior.workspace_id,
                                                   'campaign ' || v_campaign_id);
        IF v_prior.creation_fingerprint IS DISTINCT FROM v_fingerprint THEN
            RAISE EXCEPTION 'campaign % already exists with different data', v_campaign_id
                  USING ERRCODE = '23505', CONSTRAINT = 'campaigns_pkey',
                        HINT = 'use a new id for a new campaign; reuse an id only to retry the same call';
        END IF;
        SELECT count(*) INTO v_zip_count
          FROM campaigndb.gmaps_campaign_coverage AS g WHERE g.campaign_id = v_campaign_id;
        RETURN campaigndb.envelope_ok(jsonb_build_object(
            'campaign_id', v_campaign_id, 'zip_count', v_zip_count, 'replayed', true));
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
-- Idempotency: p_idempotency_key; a repeat with the same key and parameters returns the
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
    IF pg_catalog.current_setting('campaigndb.workspace_id', true) <> '' THEN
        PERFORM campaigndb.assert_workspace_access(v_workspace_id, 'campaign ' || p_campaign_id);
    END IF;

    INSERT INTO campaigndb.gmaps_api_costs
           (campaign_id, service, items_processed, cost_usd, metadata, idempotency_key)
    VALUES (p_campaign_id, p_service, p_items_processed, p_cost_usd, v_metadata,
            p_idempotency_key)
    ON CONFLICT (idempotency_key) DO NOTHING
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
         WHERE k.idempotency_key = p_idempotency_key;
        IF v_prior.campaign_id = p_campaign_id AND v_prior.service = p_service
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
