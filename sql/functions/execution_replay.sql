-- campaigndb.execution_replay: the answer of execute_campaign_atomically to a repeat of an
-- execution id: the first result with replayed: true when every parameter matches; 23505
-- when the id was used with other parameters; 42501 when the first call's workspace is not
-- the bound one.  Raises; the caller's handler turns that into the envelope.
CREATE OR REPLACE FUNCTION campaigndb.execution_replay(
    p_prior                         campaigndb.n8n_campaign_executions,
    p_workspace_id                  uuid,
    p_workspace_n8n_workflow_id     uuid,
    p_campaign_approval_session_id  uuid,
    p_campaign_name                 text,
    p_campaign_type                 text,
    p_execution_config              jsonb)
RETURNS jsonb
LANGUAGE plpgsql
STABLE
AS $function$
BEGIN
    PERFORM campaigndb.assert_workspace_access(p_prior.workspace_id, 'execution ' || p_prior.id);
    IF (p_prior.workspace_id, p_prior.workspace_n8n_workflow_id,
        p_prior.campaign_approval_session_id, p_prior.campaign_name, p_prior.campaign_type,
        p_prior.execution_config)
       IS DISTINCT FROM
       (p_workspace_id, p_workspace_n8n_workflow_id, p_campaign_approval_session_id,
        p_campaign_name, p_campaign_type, p_execution_config) THEN
        RAISE EXCEPTION 'execution id % was already used with different parameters', p_prior.id
              USING ERRCODE = '23505', CONSTRAINT = 'n8n_campaign_executions_pkey',
                    HINT = 'use a new p_execution_id for a new execution; reuse one only to retry';
    END IF;
    RETURN campaigndb.envelope_ok(pg_catalog.jsonb_build_object(
        'execution_id', p_prior.id, 'execution_status', p_prior.execution_status,
        'total_executions', p_prior.execution_number, 'replayed', true));
END
$function$;

REVOKE ALL ON FUNCTION campaigndb.execution_replay(campaigndb.n8n_campaign_executions, uuid, uuid,
                                                   uuid, text, text, jsonb) FROM PUBLIC;
