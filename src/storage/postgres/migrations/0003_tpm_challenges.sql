-- TPM challenges (the latest per registration ID): keyed '{idScope}/{registrationId}' in the global scope, indexed
-- by expiry so expired ones can be pruned.
CREATE TABLE tpm_challenges (scope TEXT NOT NULL, key TEXT COLLATE "C" NOT NULL, etag TEXT, idx TEXT COLLATE "C", doc TEXT NOT NULL, PRIMARY KEY (scope, key));
CREATE INDEX tpm_challenges_idx ON tpm_challenges (scope, idx);
