-- Row level security on every table, with workspace policies (docs/security.md, docs/tenancy.md).
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
