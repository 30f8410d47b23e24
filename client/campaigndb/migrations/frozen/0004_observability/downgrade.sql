-- Remove everything revision 0004_observability created.
DROP FUNCTION IF EXISTS public.record_transaction_metrics(jsonb);
DROP FUNCTION IF EXISTS public.record_transaction_metric(varchar, uuid, integer, boolean, text,
                                                         integer, varchar);
