-- The voting service's ballot box. Nothing from the issuance side (resident, blinded message, blind
-- signature) and no time or sequence number: a ballot token (serial, district, RFC 9474 prefix and
-- signature) next to the ballot it was cast with (commitment, choice, salt) and its batch.
-- district is '' when the election has one token key. The serial is the double-vote key.
CREATE TABLE voting_ballots (
    election_id TEXT NOT NULL,
    serial BLOB NOT NULL,
    district TEXT NOT NULL,
    prefix BLOB NOT NULL,
    signature BLOB NOT NULL,
    commitment BLOB NOT NULL,
    choice TEXT NOT NULL,
    salt BLOB NOT NULL,
    batch_id BLOB,
    PRIMARY KEY (election_id, serial)
) WITHOUT ROWID;
CREATE UNIQUE INDEX voting_ballots_commitment ON voting_ballots (election_id, commitment);
CREATE INDEX voting_ballots_batch ON voting_ballots (election_id, batch_id);
-- The Merkle batches of commitments and where they are anchored (public on chain anyway).
CREATE TABLE voting_batches (
    election_id TEXT NOT NULL,
    batch_id BLOB NOT NULL,
    root BLOB NOT NULL,
    size INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('sent', 'anchored')),
    tx_hash TEXT,
    block_number INTEGER,
    PRIMARY KEY (election_id, batch_id)
) WITHOUT ROWID;
