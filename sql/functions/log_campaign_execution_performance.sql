-- campaigndb.log_campaign_execution_performance: trigger on n8n_campaign_executions; when
-- an execution finishes (its status becomes completed or failed) it records the execution's
-- performance in transaction_metrics and an audit row, in the same transaction.
CREATE OR REPLACE FUNCTION campaigndb.log_campaign_execution_performance()
RETURNS trigger
LANGUAGE plpgsql
AS $function$
BEGIN
    INSERT INTO campaigndb.transaction_metrics
           (operation_name, campaign_id, duration_ms, success, error_message, retry_count,
            isolation_level)
    VALUES ('campaign_execution:' || NEW.campaign_type, NULL, COALESCE(NEW.duration_ms, 0),
            NEW.execution_status = 'completed', NEW.error_message, 0, NULL);
    INSERT INTO campaigndb.workflow_deployment_history
           (workspace_id, workflow_id, execution_id, event_type, details)
    VALUES (NEW.workspace_id, NEW.workspace_n8n_workflow_id, NEW.id,
            'campaign_execution_' || NEW.execution_status,
            pg_catalog.jsonb_build_object('duration_ms', NEW.duration_ms,
                                          'error_message', NEW.error_message));
    RETURN NULL;
END
$function$;

REVOKE ALL ON FUNCTION campaigndb.log_campaign_execution_performance() FROM PUBLIC;

CREATE OR REPLACE TRIGGER log_campaign_execution_performance
    AFTER UPDATE OF execution_status ON campaigndb.n8n_campaign_executions
    FOR EACH ROW
    WHEN (NEW.execution_status IN ('completed', 'failed')
          AND OLD.execution_status IS DISTINCT FROM NEW.execution_status)
    EXECUTE FUNCTION campaigndb.log_campaign_execution_performance();
