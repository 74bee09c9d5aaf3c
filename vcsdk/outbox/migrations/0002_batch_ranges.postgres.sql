-- Anchoring stops rewriting receipt rows: a batch records the range of queue positions (seq) it
-- covers, first_seq..last_seq, and the positions inside that range that hold no receipt (gaps: a
-- sequence value a rolled-back or conflicting insert consumed), as 8-byte big-endian integers.
-- A receipt's batch is the one with the smallest last_seq at or above its seq; its leaf index is
-- its offset from first_seq less the gaps before it. Receipts stay as intake wrote them.
ALTER TABLE outbox_batches ADD COLUMN IF NOT EXISTS first_seq BIGINT;
ALTER TABLE outbox_batches ADD COLUMN IF NOT EXISTS last_seq BIGINT;
ALTER TABLE outbox_batches ADD COLUMN IF NOT EXISTS gaps BYTEA;
-- Batches cut before this version keep their membership in outbox_receipts.batch_id/leaf_index
-- (first_seq stays NULL); their last_seq is their highest receipt, so the queue starts after them.
UPDATE outbox_batches SET last_seq = (
    SELECT max(r.seq) FROM outbox_receipts r WHERE r.batch_id = outbox_batches.batch_id
) WHERE first_seq IS NULL;
-- Receipts still queued move behind every batched one, in their order, and the sequence follows.
UPDATE outbox_receipts SET seq = seq + (SELECT max(seq) FROM outbox_receipts) WHERE batch_id IS NULL
    AND EXISTS (SELECT 1 FROM outbox_batches);
SELECT setval(pg_get_serial_sequence('outbox_receipts', 'seq'), max(seq)) FROM outbox_receipts HAVING max(seq) IS NOT NULL;
CREATE UNIQUE INDEX IF NOT EXISTS outbox_batches_first_seq ON outbox_batches (first_seq);
CREATE UNIQUE INDEX IF NOT EXISTS outbox_batches_last_seq ON outbox_batches (last_seq);
-- Fewer indexes on the table every receipt is written to: the queue is a primary-key range now,
-- (pseudonym, accessed_at) is a prefix of outbox_receipts_pseudonym_page, and only receipts of
-- batches cut before this version carry a batch id.
DROP INDEX IF EXISTS outbox_receipts_queued;
DROP INDEX IF EXISTS outbox_receipts_pseudonym;
DROP INDEX IF EXISTS outbox_receipts_batch;
CREATE INDEX IF NOT EXISTS outbox_receipts_legacy_batch ON outbox_receipts (batch_id, leaf_index)
    WHERE batch_id IS NOT NULL;
