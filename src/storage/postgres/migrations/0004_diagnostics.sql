-- Diagnostics: one row per device attempt (id = '{time}|{random}', ordered by time), newest first by id; and the
-- daily totals of billable operations per ID scope (added to atomically by every node).
CREATE TABLE attempts (id_scope TEXT COLLATE "C" NOT NULL, id TEXT COLLATE "C" NOT NULL, time TEXT COLLATE "C" NOT NULL, registration_id TEXT COLLATE "C", outcome TEXT NOT NULL, doc TEXT NOT NULL, PRIMARY KEY (id_scope, id));
CREATE INDEX attempts_by_device ON attempts (id_scope, registration_id, id);
CREATE INDEX attempts_by_outcome ON attempts (id_scope, outcome, id);
CREATE INDEX attempts_by_time ON attempts (time);
CREATE TABLE usage_totals (id_scope TEXT COLLATE "C" NOT NULL, day TEXT COLLATE "C" NOT NULL, operation TEXT COLLATE "C" NOT NULL, count BIGINT NOT NULL, PRIMARY KEY (id_scope, day, operation));
