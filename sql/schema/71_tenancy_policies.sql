-- Row level security on the tenancy binding (revision 0007; docs/tenancy.md), forced on
-- every workspace table so that it holds for the owning role too (the SECURITY DEFINER
-- functions; superusers bypass RLS whatever it says).  campaigndb.caller_workspaces(false)
-- is NULL for an unnarrowed service session (every row) and otherwise the session's
-- workspaces (none for an unbound tenant); each (SELECT ...) is evaluated once per
-- statement, and the second only when the first is not NULL.
DO $rls$
DECLARE
    v_all   constant text := '(SELECT campaigndb.caller_workspaces(false)) IS NULL';
    v_mine  constant text := 'ANY ((SELECT campaigndb.caller_workspaces(false))::uuid[])';
    v_table text;
BEGIN
    FOREACH v_table IN ARRAY ARRAY['workspaces', 'campaigns', 'workspace_n8n_workflows',
                                   'n8n_campaign_executions', 'workflow_deployment_history',
                                   'collection_log']
    LOOP
        EXECUTE format('DROP POLICY workspace_isolation ON campaigndb.%I', v_table);
        EXECUTE format('CREATE POLICY workspace_isolation ON campaigndb.%I USING (%s OR %I = %s)',
                       v_table, v_all,
                       CASE v_table WHEN 'workspaces' THEN 'id' ELSE 'workspace_id' END, v_mine);
        EXECUTE format('ALTER TABLE campaigndb.%I FORCE ROW LEVEL SECURITY', v_table);
    END LOOP;
    FOREACH v_table IN ARRAY ARRAY['gmaps_campaign_coverage', 'gmaps_businesses',
                                   'gmaps_api_costs', 'daily_kpi_data', 'campaign_summaries',
                                   'transaction_metrics']
    LOOP
        EXECUTE format('DROP POLICY workspace_isolation ON campaigndb.%I', v_table);
        EXECUTE format(
            'CREATE POLICY workspace_isolation ON campaigndb.%I USING (%s OR campaign_id IN '
            '(SELECT c.id FROM campaigndb.campaigns AS c WHERE c.workspace_id = %s))',
            v_table, v_all, v_mine);
        EXECUTE format('ALTER TABLE campaigndb.%I FORCE ROW LEVEL SECURITY', v_table);
    END LOOP;
END
$rls$;
-- A new workspace is nobody's object yet (create_workspace is for service sessions only),
-- and a measurement may name no campaign (it is then visible to unnarrowed service only).
CREATE POLICY workspace_creation ON campaigndb.workspaces FOR INSERT WITH CHECK (true);
CREATE POLICY unattributed_metrics ON campaigndb.transaction_metrics FOR INSERT
    WITH CHECK (campaign_id IS NULL);

-- Tenants execute the workspace API; not create_workspace (a workspace is provisioned by a
-- service or admin), not get_database_health_metrics (cluster-wide figures).
GRANT EXECUTE ON FUNCTION
    public.create_campaign_with_coverage(jsonb, jsonb),
    public.track_campaign_cost(uuid, varchar, integer, numeric, jsonb, text),
    public.insert_businesses_batch(uuid, varchar, jsonb),
    public.update_campaign_statistics(uuid),
    public.update_coverage_status(uuid, varchar, integer, integer, numeric, text),
    public.update_email_verification(uuid, varchar, jsonb),
    public.update_enrichment_batch(varchar, jsonb),
    public.register_n8n_workflow(uuid, text, text, text, text),
    public.execute_campaign_atomically(uuid, uuid, uuid, text, text, jsonb, uuid),
    public.complete_campaign_execution(uuid, text, jsonb, text),
    public.record_transaction_metric(varchar, uuid, integer, boolean, text, integer, varchar, uuid),
    public.record_transaction_metrics(jsonb),
    public.upsert_daily_kpi_batch(jsonb, text, text),
    public.aggregate_monthly_kpis(date, uuid, text),
    public.get_businesses_for_enrichment(uuid, varchar, integer, integer, uuid),
    public.validate_campaign_execution_constraints(uuid, uuid, text),
    public.get_campaign_execution_metrics(uuid, timestamptz)
    TO campaigndb_tenant;
GRANT EXECUTE ON FUNCTION
    public.get_businesses_for_enrichment(uuid, varchar, integer, integer, uuid),
    public.validate_campaign_execution_constraints(uuid, uuid, text),
    public.get_campaign_execution_metrics(uuid, timestamptz)
    TO campaigndb_tenant_readonly;
