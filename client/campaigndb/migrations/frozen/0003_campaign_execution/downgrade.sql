-- Remove everything revision 0003_campaign_execution created.
DROP FUNCTION IF EXISTS public.get_database_health_metrics();
DROP FUNCTION IF EXISTS public.get_campaign_execution_metrics(uuid, timestamptz);
DROP FUNCTION IF EXISTS public.validate_campaign_execution_constraints(uuid, uuid, text);
DROP FUNCTION IF EXISTS public.complete_campaign_execution(uuid, text, jsonb, text);
DROP TRIGGER IF EXISTS log_campaign_execution_performance ON campaigndb.n8n_campaign_executions;
DROP FUNCTION IF EXISTS campaigndb.log_campaign_execution_performance();
DROP FUNCTION IF EXISTS public.execute_campaign_atomically(uuid, uuid, uuid, text, text, jsonb, uuid);
DROP FUNCTION IF EXISTS public.register_n8n_workflow(uuid, text, text, text, text);
DROP FUNCTION IF EXISTS campaigndb.execution_replay(campaigndb.n8n_campaign_executions, uuid, uuid,
                                                    uuid, text, text, jsonb);
ALTER TABLE campaigndb.workflow_deployment_history NO FORCE ROW LEVEL SECURITY;
DROP INDEX IF EXISTS campaigndb.n8n_campaign_executions_workspace_created_idx;
ALTER TABLE campaigndb.n8n_campaign_executions DROP COLUMN IF EXISTS execution_number;
