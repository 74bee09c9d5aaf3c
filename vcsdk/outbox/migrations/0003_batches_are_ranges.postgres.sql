-- Every batch cut from now on names its range (0002): an instance of an earlier release still
-- running against this database (a rolling upgrade) could otherwise cut receipts already in a range
-- into a batch of its own. Its insert now fails, which it takes as "another outbox cut these".
-- NOT VALID: only new rows are checked.
ALTER TABLE outbox_batches ADD CONSTRAINT outbox_batches_ranged CHECK (last_seq IS NOT NULL) NOT VALID
