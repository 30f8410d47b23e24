-- Tables (docs/contract.md, section 2).  Every row belongs to a workspace, directly or through
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
