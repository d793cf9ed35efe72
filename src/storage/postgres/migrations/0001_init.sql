-- PostgreSQL: keys and index values compare bytewise (COLLATE "C"), as in SQLite, so keyset paging and prefix
-- bounds behave the same on both backends.
-- OpenDPS provisioning store. Every aggregate is a table of JSON documents keyed by (scope, key), with an
-- etag for compare-and-set and one secondary index column.
CREATE TABLE instances     (scope TEXT NOT NULL, key TEXT COLLATE "C" NOT NULL, etag TEXT, idx TEXT COLLATE "C", doc TEXT NOT NULL, PRIMARY KEY (scope, key));
CREATE TABLE enrollments   (scope TEXT NOT NULL, key TEXT COLLATE "C" NOT NULL, etag TEXT, idx TEXT COLLATE "C", doc TEXT NOT NULL, PRIMARY KEY (scope, key));
CREATE TABLE groups        (scope TEXT NOT NULL, key TEXT COLLATE "C" NOT NULL, etag TEXT, idx TEXT COLLATE "C", doc TEXT NOT NULL, PRIMARY KEY (scope, key));
CREATE TABLE registrations (scope TEXT NOT NULL, key TEXT COLLATE "C" NOT NULL, etag TEXT, idx TEXT COLLATE "C", doc TEXT NOT NULL, PRIMARY KEY (scope, key));
CREATE TABLE operations    (scope TEXT NOT NULL, key TEXT COLLATE "C" NOT NULL, etag TEXT, idx TEXT COLLATE "C", doc TEXT NOT NULL, PRIMARY KEY (scope, key));
CREATE TABLE linked_hubs   (scope TEXT NOT NULL, key TEXT COLLATE "C" NOT NULL, etag TEXT, idx TEXT COLLATE "C", doc TEXT NOT NULL, PRIMARY KEY (scope, key));
CREATE INDEX instances_idx     ON instances (scope, idx);
CREATE INDEX enrollments_idx   ON enrollments (scope, idx);
CREATE INDEX groups_idx        ON groups (scope, idx);
CREATE INDEX registrations_idx ON registrations (scope, idx, key);
CREATE INDEX operations_idx    ON operations (scope, idx);
