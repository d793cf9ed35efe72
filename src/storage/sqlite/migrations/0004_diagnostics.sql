-- Diagnostics: one row per device attempt (id = '{time}|{random}', ordered by time), newest first by id; and the
-- daily totals of billable operations per ID scope (added to atomically by every node).
CREATE TABLE attempts (id_scope TEXT NOT NULL, id TEXT NOT NULL, time TEXT NOT NULL, registration_id TEXT, outcome TEXT NOT NULL, doc TEXT NOT NULL, PRIMARY KEY (id_scope, id));
CREATE INDEX attempts_by_device ON attempts (id_scope, registration_id, id);
CREATE INDEX attempts_by_outcome ON attempts (id_scope, outcome, id);
CREATE INDEX attempts_by_time ON attempts (time);
CREATE TABLE usage_totals (id_scope TEXT NOT NULL, day TEXT NOT NULL, operation TEXT NOT NULL, count INTEGER NOT NULL, PRIMARY KEY (id_scope, day, operation));
