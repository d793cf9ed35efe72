-- Built-in hub registry: device identities and twins, stored as JSON documents keyed by (hub, device).
-- The etag column mirrors the document's etag so compare-and-set is a single UPDATE ... WHERE etag = ?.
CREATE TABLE hub_devices (
  hub_name  TEXT NOT NULL,
  device_id TEXT NOT NULL,
  etag      TEXT NOT NULL,
  doc       TEXT NOT NULL,
  PRIMARY KEY (hub_name, device_id)
) WITHOUT ROWID;

CREATE TABLE hub_twins (
  hub_name  TEXT NOT NULL,
  device_id TEXT NOT NULL,
  etag      TEXT NOT NULL,
  doc       TEXT NOT NULL,
  PRIMARY KEY (hub_name, device_id)
) WITHOUT ROWID;
