-- SQLSTATEs added to the shared table in revision 0005 (see 20_error_codes.sql).
-- 54001: a JSON argument nested so deeply that the server's stack depth limit stops the
-- function while it reads it (a document just under ::jsonb's own nesting limit): bad
-- input, answered in the envelope, never worth retrying.
INSERT INTO campaigndb.error_codes
    (sqlstate, condition_name, retry_recommended, retry_after_ms, raised_in, meaning)
VALUES
    ('54001', 'statement_too_complex',         false, NULL, 'function',   'input nested too deeply (the server''s stack depth limit)');
