-- Campaign execution (n8n): what execute_campaign_atomically returns on a replay, the lookup
-- of a workspace's executions by time (metrics), and row level security forced on the
-- append-only audit trail: even the owning role (the SECURITY DEFINER functions) cannot
-- write an audit row of another workspace than the bound one.
ALTER TABLE campaigndb.n8n_campaign_executions
    ADD COLUMN execution_number integer CHECK (execution_number > 0);
COMMENT ON COLUMN campaigndb.n8n_campaign_executions.execution_number IS
    'the workflow''s total_executions right after this execution was recorded';
CREATE INDEX n8n_campaign_executions_workspace_created_idx
    ON campaigndb.n8n_campaign_executions (workspace_id, created_at);
ALTER TABLE campaigndb.workflow_deployment_history FORCE ROW LEVEL SECURITY;
