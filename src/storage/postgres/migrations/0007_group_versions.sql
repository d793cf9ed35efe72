-- Issue 18: a version stamp of the groups table, so a node sharing this database learns cheaply whether its in-memory
-- group index (core/attestation/group-index.ts, kept by storage/read-cache.ts) is still current: one row read, instead
-- of reloading every group once a second. A statement trigger bumps it in the transaction of every group write, so a
-- write and its stamp commit together.
CREATE TABLE group_versions (id SMALLINT PRIMARY KEY CHECK (id = 1), version BIGINT NOT NULL);
INSERT INTO group_versions (id, version) VALUES (1, 1);

CREATE FUNCTION opendps_bump_group_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE group_versions SET version = version + 1 WHERE id = 1;
  RETURN NULL;
END $$;

CREATE TRIGGER groups_versioned AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON groups FOR EACH STATEMENT EXECUTE FUNCTION opendps_bump_group_version();
