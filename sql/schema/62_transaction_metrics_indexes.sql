-- transaction_metrics indexes, revision 0006: the table is written once per call and read
-- rarely, so every index on it is paid on every call.  The b-tree on (operation_name,
-- created_at DESC) cost a fifth of a metrics flush's server time and a WAL record per row;
-- a BRIN index on created_at serves the same time-window reads (rows arrive in time order,
-- so a window maps to a few block ranges; filter the operation within it) for almost
-- nothing per row.  The campaign_id b-tree stays: a campaign's rows are scattered in time.
DROP INDEX campaigndb.transaction_metrics_operation_idx;
CREATE INDEX transaction_metrics_created_at_idx
    ON campaigndb.transaction_metrics USING brin (created_at);
