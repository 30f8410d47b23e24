-- The one SQLSTATE table shared by SQL and Python (docs/contract.md, section 1).
-- The envelope helper reads retry_recommended / retry_after_ms from here; the Python
-- client reads the same table from campaigndb/core/sqlstates.tsv; a test requires them equal.
-- raised_in: 'function' = a function answers it in its envelope;
--            'propagated' = never caught in SQL, the client turns it into an envelope;
--            'client' = seen only by the client (connection level).
CREATE TABLE campaigndb.error_codes (
    sqlstate           char(5) PRIMARY KEY CHECK (sqlstate ~ '^[0-9A-Z]{5}$'),
    condition_name     text    NOT NULL,
    retry_recommended  boolean NOT NULL,
    retry_after_ms     integer CHECK (retry_after_ms >= 0),
    raised_in          text    NOT NULL CHECK (raised_in IN ('function', 'propagated', 'client')),
    meaning            text    NOT NULL
);

INSERT INTO campaigndb.error_codes
    (sqlstate, condition_name, retry_recommended, retry_after_ms, raised_in, meaning)
VALUES
    ('22023', 'invalid_parameter_value',       false, NULL, 'function',   'invalid input value'),
    ('22P02', 'invalid_text_representation',   false, NULL, 'function',   'bad text representation'),
    ('22003', 'numeric_value_out_of_range',    false, NULL, 'function',   'value out of range'),
    ('22007', 'invalid_datetime_format',       false, NULL, 'function',   'bad date or time'),
    ('23502', 'not_null_violation',            false, NULL, 'function',   'required value missing'),
    ('23503', 'foreign_key_violation',         false, NULL, 'function',   'referenced row does not exist'),
    ('23505', 'unique_violation',              false, NULL, 'function',   'duplicate, or an idempotency key reused with different parameters'),
    ('23514', 'check_violation',               false, NULL, 'function',   'check constraint (e.g. unknown campaign type)'),
    ('P0002', 'no_data_found',                 false, NULL, 'function',   'the named object does not exist'),
    ('55000', 'object_not_in_prerequisite_state', false, NULL, 'function', 'object not in the required state'),
    ('54000', 'program_limit_exceeded',        false, NULL, 'function',   'batch larger than the documented limit'),
    ('42501', 'insufficient_privilege',        false, NULL, 'function',   'caller may not act on that workspace'),
    ('40001', 'serialization_failure',         true,  10,   'propagated', 'serialization failure: retry the whole transaction'),
    ('40P01', 'deadlock_detected',             true,  10,   'propagated', 'deadlock detected: retry the whole transaction'),
    ('55P03', 'lock_not_available',            true,  50,   'function',   'lock not available (NOWAIT)'),
    ('57014', 'query_canceled',                true,  100,  'propagated', 'statement timeout or cancelled'),
    ('08000', 'connection_exception',          true,  100,  'client',     'connection problem'),
    ('08001', 'sqlclient_unable_to_establish_sqlconnection', true, 100, 'client', 'could not connect'),
    ('08003', 'connection_does_not_exist',     true,  100,  'client',     'connection does not exist'),
    ('08004', 'sqlserver_rejected_establishment_of_sqlconnection', true, 100, 'client', 'server rejected the connection'),
    ('08006', 'connection_failure',            true,  100,  'client',     'connection lost'),
    ('08007', 'transaction_resolution_unknown', true, 100,  'client',     'connection lost during COMMIT'),
    ('53300', 'too_many_connections',          true,  500,  'client',     'server at max_connections'),
    ('57P01', 'admin_shutdown',                true,  500,  'client',     'server shutting down'),
    ('57P02', 'crash_shutdown',                true,  500,  'client',     'server crashed'),
    ('57P03', 'cannot_connect_now',            true,  500,  'client',     'server not yet accepting connections');
