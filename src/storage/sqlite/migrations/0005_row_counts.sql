-- Counts for the console and metrics (storage/sqlite/stats.ts), kept by triggers in the transaction of every write,
-- so reading them is one index lookup whatever the number of rows (a COUNT over a million enrollments took ~50 ms of
-- event loop). `status` is '' for enrollments and groups, the record's status for registrations.
CREATE TABLE row_counts (tbl TEXT NOT NULL, scope TEXT NOT NULL, status TEXT NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (tbl, scope, status));
INSERT INTO row_counts (tbl, scope, status, n) SELECT 'enrollments', scope, '', COUNT(*) FROM enrollments GROUP BY scope;
INSERT INTO row_counts (tbl, scope, status, n) SELECT 'groups', scope, '', COUNT(*) FROM groups GROUP BY scope;
INSERT INTO row_counts (tbl, scope, status, n)
  SELECT 'registrations', scope, s, COUNT(*) FROM (SELECT scope, COALESCE(json_extract(doc, '$.status'), '') AS s FROM registrations) GROUP BY scope, s;

CREATE TRIGGER enrollments_counted_insert AFTER INSERT ON enrollments BEGIN
  INSERT INTO row_counts (tbl, scope, status, n) VALUES ('enrollments', NEW.scope, '', 1) ON CONFLICT (tbl, scope, status) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER enrollments_counted_delete AFTER DELETE ON enrollments BEGIN
  UPDATE row_counts SET n = n - 1 WHERE tbl = 'enrollments' AND scope = OLD.scope AND status = '';
END;
CREATE TRIGGER groups_counted_insert AFTER INSERT ON groups BEGIN
  INSERT INTO row_counts (tbl, scope, status, n) VALUES ('groups', NEW.scope, '', 1) ON CONFLICT (tbl, scope, status) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER groups_counted_delete AFTER DELETE ON groups BEGIN
  UPDATE row_counts SET n = n - 1 WHERE tbl = 'groups' AND scope = OLD.scope AND status = '';
END;
CREATE TRIGGER registrations_counted_insert AFTER INSERT ON registrations BEGIN
  INSERT INTO row_counts (tbl, scope, status, n) VALUES ('registrations', NEW.scope, COALESCE(json_extract(NEW.doc, '$.status'), ''), 1)
    ON CONFLICT (tbl, scope, status) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER registrations_counted_delete AFTER DELETE ON registrations BEGIN
  UPDATE row_counts SET n = n - 1 WHERE tbl = 'registrations' AND scope = OLD.scope AND status = COALESCE(json_extract(OLD.doc, '$.status'), '');
END;
CREATE TRIGGER registrations_counted_update AFTER UPDATE OF doc ON registrations
  WHEN json_extract(OLD.doc, '$.status') IS NOT json_extract(NEW.doc, '$.status') BEGIN
  UPDATE row_counts SET n = n - 1 WHERE tbl = 'registrations' AND scope = OLD.scope AND status = COALESCE(json_extract(OLD.doc, '$.status'), '');
  INSERT INTO row_counts (tbl, scope, status, n) VALUES ('registrations', NEW.scope, COALESCE(json_extract(NEW.doc, '$.status'), ''), 1)
    ON CONFLICT (tbl, scope, status) DO UPDATE SET n = n + 1;
END;
