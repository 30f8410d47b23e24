"""The API functions, each declared once (see `campaigndb.core.declare`), and `Operations`:
the typed methods both clients inherit (sync on `Client`, async on `AsyncClient`)."""

from __future__ import annotations

from campaigndb.core.functions import execution, leadgen, reporting


class Operations:
    """One typed method per API function (each an `Operation`)."""

    create_workspace = leadgen.create_workspace
    create_campaign_with_coverage = leadgen.create_campaign_with_coverage
    track_campaign_cost = leadgen.track_campaign_cost
    insert_businesses_batch = leadgen.insert_businesses_batch
    update_campaign_statistics = leadgen.update_campaign_statistics
    update_coverage_status = leadgen.update_coverage_status
    update_email_verification = leadgen.update_email_verification
    update_enrichment_batch = leadgen.update_enrichment_batch
    get_businesses_for_enrichment = leadgen.get_businesses_for_enrichment
    register_n8n_workflow = execution.register_n8n_workflow
    execute_campaign_atomically = execution.execute_campaign_atomically
    complete_campaign_execution = execution.complete_campaign_execution
    validate_campaign_execution_constraints = execution.validate_campaign_execution_constraints
    get_campaign_execution_metrics = execution.get_campaign_execution_metrics
    record_transaction_metric = reporting.record_transaction_metric
    get_database_health_metrics = reporting.get_database_health_metrics
    upsert_daily_kpi_batch = reporting.upsert_daily_kpi_batch
    aggregate_monthly_kpis = reporting.aggregate_monthly_kpis
