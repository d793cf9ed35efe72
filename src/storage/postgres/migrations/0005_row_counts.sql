-- Counts for the console and metrics (storage/postgres/stats.ts), kept by statement triggers in the transaction of
-- every enrollment, group and registration write, so reading them costs the same at a million rows as at ten.
-- `status` is '' for enrollments and groups, the record's status for registrations. Each connection adds to its own
-- slot (backend pid & 15), so nodes writing at once rarely wait on one counter row; a count is the sum of the slots.
-- Needs PostgreSQL 11 or later (statement triggers with transition tables, EXECUTE FUNCTION).
CREATE TABLE row_counts (tbl TEXT COLLATE "C" NOT NULL, scope TEXT COLLATE "C" NOT NULL, status TEXT COLLATE "C" NOT NULL, slot SMALLINT NOT NULL, n BIGINT NOT NULL, PRIMARY KEY (tbl, scope, status, slot));

CREATE FUNCTION opendps_count_rows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- rows are grouped and sorted by (scope, status), so two statements lock counter rows in the same order
  IF TG_OP = 'INSERT' THEN
    INSERT INTO row_counts (tbl, scope, status, slot, n)
      SELECT TG_TABLE_NAME, scope, s, pg_backend_pid() & 15, COUNT(*) FROM (
        SELECT scope, CASE WHEN TG_TABLE_NAME = 'registrations' THEN COALESCE(doc::json->>'status', '') ELSE '' END AS s FROM new_rows) r
      GROUP BY scope, s ORDER BY scope, s
      ON CONFLICT (tbl, scope, status, slot) DO UPDATE SET n = row_counts.n + excluded.n;
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO row_counts (tbl, scope, status, slot, n)
      SELECT TG_TABLE_NAME, scope, s, pg_backend_pid() & 15, -COUNT(*) FROM (
        SELECT scope, CASE WHEN TG_TABLE_NAME = 'registrations' THEN COALESCE(doc::json->>'status', '') ELSE '' END AS s FROM old_rows) r
      GROUP BY scope, s ORDER BY scope, s
      ON CONFLICT (tbl, scope, status, slot) DO UPDATE SET n = row_counts.n + excluded.n;
  ELSE -- UPDATE (registrations only): a record whose status changed moves from one count to another
    INSERT INTO row_counts (tbl, scope, status, slot, n)
      SELECT TG_TABLE_NAME, scope, s, pg_backend_pid() & 15, SUM(d) FROM (
        SELECT scope, COALESCE(doc::json->>'status', '') AS s, -1 AS d FROM old_rows
        UNION ALL SELECT scope, COALESCE(doc::json->>'status', ''), 1 FROM new_rows) r
      GROUP BY scope, s HAVING SUM(d) <> 0 ORDER BY scope, s
      ON CONFLICT (tbl, scope, status, slot) DO UPDATE SET n = row_counts.n + excluded.n;
  END IF;
  RETURN NULL;
END $$;

-- the triggers first: creating them locks each table against writes until this migration commits, so the counts
-- below see every row and no write can fall between them and the triggers
CREATE TRIGGER enrollments_counted_insert AFTER INSERT ON enrollments REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION opendps_count_rows();
CREATE TRIGGER enrollments_counted_delete AFTER DELETE ON enrollments REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION opendps_count_rows();
CREATE TRIGGER groups_counted_insert AFTER INSERT ON groups REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION opendps_count_rows();
CREATE TRIGGER groups_counted_delete AFTER DELETE ON groups REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION opendps_count_rows();
CREATE TRIGGER registrations_counted_insert AFTER INSERT ON registrations REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION opendps_count_rows();
CREATE TRIGGER registrations_counted_delete AFTER DELETE ON registrations REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION opendps_count_rows();
CREATE TRIGGER registrations_counted_update AFTER UPDATE ON registrations REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION opendps_count_rows();

INSERT INTO row_counts (tbl, scope, status, slot, n) SELECT 'enrollments', scope, '', 0, COUNT(*) FROM enrollments GROUP BY scope;
INSERT INTO row_counts (tbl, scope, status, slot, n) SELECT 'groups', scope, '', 0, COUNT(*) FROM groups GROUP BY scope;
INSERT INTO row_counts (tbl, scope, status, slot, n)
  SELECT 'registrations', scope, s, 0, COUNT(*) FROM (SELECT scope, COALESCE(doc::json->>'status', '') AS s FROM registrations) r GROUP BY scope, s;
