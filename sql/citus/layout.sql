-- The Citus layout (docs/scale-out.md), applied only when the citus extension exists in this
-- database (a Citus coordinator); on plain PostgreSQL this block changes nothing.
--
-- Reference tables (a copy on every node): workspaces, error_codes, tenant_logins,
--   token_secrets (the workspace binding is checked on the worker that runs a call).
-- Distributed by campaign, one colocation group with campaigns(id): campaigns, coverage,
--   businesses, API costs, daily KPIs, monthly summaries; every unique key includes it.
-- On the coordinator: the workspace-keyed execution tables and collection_log (Citus makes
--   them Citus local tables: their foreign keys reach the reference table workspaces), and
--   transaction_metrics (a plain table).
-- The campaign-keyed API functions are delegated by p_campaign_id to the worker holding the
-- campaign's shard, also inside the caller's transaction (force_delegation).
DO $citus$
DECLARE
    v_campaign_tables constant regclass[] := ARRAY[
        'campaigndb.campaigns', 'campaigndb.gmaps_campaign_coverage',
        'campaigndb.gmaps_businesses', 'campaigndb.gmaps_api_costs',
        'campaigndb.daily_kpi_data', 'campaigndb.campaign_summaries']::regclass[];
    v_fks    jsonb;
    v_fk     jsonb;
    v_table  text;
    v_helper text;
    v_api    text;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'citus') THEN
        RETURN;
    END IF;
    -- The distribution runs inside the revision's transaction: one connection per node.
    SET LOCAL citus.multi_shard_modify_mode = 'sequential';
    -- Callers bind a workspace with SET LOCAL (docs/scale-out.md); Citus forwards SET LOCAL
    -- to the workers a transaction reaches only with this setting.
    EXECUTE pg_catalog.format('ALTER DATABASE %I SET citus.propagate_set_commands = %L',
                              pg_catalog.current_database(), 'local');

    -- A unique key of a distributed table must include its distribution column.
    ALTER TABLE campaigndb.gmaps_businesses
        DROP CONSTRAINT gmaps_businesses_pkey,
        ADD CONSTRAINT gmaps_businesses_pkey PRIMARY KEY (campaign_id, id);
    CREATE INDEX gmaps_businesses_id_idx ON campaigndb.gmaps_businesses (id);
    ALTER TABLE campaigndb.gmaps_api_costs
        DROP CONSTRAINT gmaps_api_costs_pkey,
        ADD CONSTRAINT gmaps_api_costs_pkey PRIMARY KEY (campaign_id, id);
    -- A client's campaign id is unique per workspace on one server (request_id); here only
    -- the id itself is unique, and create_campaign_with_coverage refuses an id that another
    -- workspace holds instead of giving the campaign an id of its own (docs/scale-out.md).
    ALTER TABLE campaigndb.campaigns DROP CONSTRAINT campaigns_workspace_request_id_key;
    CREATE INDEX campaigns_workspace_request_id_idx
        ON campaigndb.campaigns (workspace_id, request_id);

    -- Their foreign keys (to campaigns, and from campaigns to workspaces) are dropped while
    -- the tables are distributed and added again after: otherwise Citus would first turn the
    -- whole foreign key graph into coordinator-local tables.
    SELECT COALESCE(jsonb_agg(jsonb_build_object(
               'tbl', c.conrelid::regclass::text, 'name', c.conname,
               'def', pg_catalog.pg_get_constraintdef(c.oid)) ORDER BY c.conrelid, c.conname),
               '[]')
      INTO v_fks
      FROM pg_catalog.pg_constraint AS c
     WHERE c.contype = 'f' AND c.conrelid = ANY (v_campaign_tables);
    FOR v_fk IN SELECT * FROM jsonb_array_elements(v_fks) LOOP
        EXECUTE pg_catalog.format('ALTER TABLE %s DROP CONSTRAINT %I',
                                  v_fk->>'tbl', v_fk->>'name');
    END LOOP;

    -- Citus refuses subqueries in the policies of its tables.  The workspace-keyed tables
    -- keep the same test, written as function calls (evaluated per row instead of once).
    -- The tables below campaigns cannot check a row's workspace through its campaign: under
    -- a bound workspace their direct reads see no rows at all (stricter, never weaker); the
    -- API functions check the binding themselves (docs/scale-out.md).
    FOREACH v_table IN ARRAY ARRAY['workspaces', 'campaigns', 'workspace_n8n_workflows',
                                   'n8n_campaign_executions', 'workflow_deployment_history',
                                   'collection_log']
    LOOP
        EXECUTE pg_catalog.format('DROP POLICY workspace_isolation ON campaigndb.%I', v_table);
        EXECUTE pg_catalog.format(
            'CREATE POLICY workspace_isolation ON campaigndb.%I USING ('
            'campaigndb.caller_workspaces(false) IS NULL '
            'OR %I = ANY (campaigndb.caller_workspaces(false)))',
            v_table, CASE v_table WHEN 'workspaces' THEN 'id' ELSE 'workspace_id' END);
    END LOOP;
    -- transaction_metrics stays a plain table, but its policy must not name campaigns
    -- either: Citus would send every query of the table to a worker, which lacks it.
    FOREACH v_table IN ARRAY ARRAY['gmaps_campaign_coverage', 'gmaps_businesses',
                                   'gmaps_api_costs', 'daily_kpi_data', 'campaign_summaries',
                                   'transaction_metrics']
    LOOP
        EXECUTE pg_catalog.format('DROP POLICY workspace_isolation ON campaigndb.%I', v_table);
        EXECUTE pg_catalog.format(
            'CREATE POLICY workspace_isolation ON campaigndb.%I USING ('
            'campaigndb.caller_workspaces(false) IS NULL)', v_table);
    END LOOP;

    -- Helpers the policies and the delegated functions call: created on every node.
    FOREACH v_helper IN ARRAY ARRAY[
        'campaigndb.envelope_ok(jsonb)',
        'campaigndb.envelope_error(text,text,text,text,text,text,text)',
        'campaigndb.bound_workspace_id()',
        'campaigndb.session_kind()',
        'campaigndb.token_workspaces(text)',
        'campaigndb.caller_workspaces(boolean)',
        'campaigndb.assert_workspace_access(uuid,text)',
        'campaigndb.json_text(jsonb,text,text,boolean,integer)',
        'campaigndb.json_uuid(jsonb,text,text,boolean)']
    LOOP
        PERFORM pg_catalog.create_distributed_function(v_helper::regprocedure);
    END LOOP;

    PERFORM pg_catalog.create_reference_table(r.t)
       FROM unnest(ARRAY['campaigndb.workspaces', 'campaigndb.error_codes',
                         'campaigndb.tenant_logins', 'campaigndb.token_secrets']) AS r(t);
    PERFORM pg_catalog.create_distributed_table('campaigndb.campaigns', 'id');
    PERFORM pg_catalog.create_distributed_table(d.t, 'campaign_id',
                                                colocate_with => 'campaigndb.campaigns')
       FROM unnest(ARRAY['campaigndb.gmaps_campaign_coverage', 'campaigndb.gmaps_businesses',
                         'campaigndb.gmaps_api_costs', 'campaigndb.daily_kpi_data',
                         'campaigndb.campaign_summaries']) AS d(t);
    FOR v_fk IN SELECT * FROM jsonb_array_elements(v_fks) LOOP
        EXECUTE pg_catalog.format('ALTER TABLE %s ADD CONSTRAINT %I %s',
                                  v_fk->>'tbl', v_fk->>'name', v_fk->>'def');
    END LOOP;

    -- The copies the distribution left in the coordinator's own files (invisible now).
    PERFORM pg_catalog.truncate_local_data_after_distributing_table(d.t)
       FROM unnest(ARRAY['campaigndb.workspaces', 'campaigndb.error_codes',
                         'campaigndb.tenant_logins', 'campaigndb.token_secrets']::regclass[]
                   || v_campaign_tables) AS d(t);

    -- get_businesses_for_enrichment (set-returning, called in FROM) stays on the coordinator:
    -- delegated, it was delegated again on the worker, without end (docs/scale-out.md).
    FOREACH v_api IN ARRAY ARRAY[
        'public.track_campaign_cost(uuid,varchar,integer,numeric,jsonb,text)',
        'public.insert_businesses_batch(uuid,varchar,jsonb)',
        'public.update_campaign_statistics(uuid)',
        'public.update_coverage_status(uuid,varchar,integer,integer,numeric,text)']
    LOOP
        PERFORM pg_catalog.create_distributed_function(v_api::regprocedure, 'p_campaign_id',
                                                       colocate_with => 'campaigndb.campaigns',
                                                       force_delegation => true);
    END LOOP;
END
$citus$;
