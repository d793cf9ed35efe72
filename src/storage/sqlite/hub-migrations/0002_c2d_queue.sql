-- Built-in hub cloud-to-device queue (hub/c2d-queue.ts): one row per queued message, in sequence order per device.
-- The lock columns are the delivery state (lock_token NULL when not out for delivery); doc is the message as JSON
-- (body in base64). expiry_ms lets the sweeper find expired messages without reading documents.
CREATE TABLE hub_c2d_messages (
  seq             INTEGER PRIMARY KEY AUTOINCREMENT,
  hub_name        TEXT NOT NULL,
  device_id       TEXT NOT NULL,
  generation_id   TEXT NOT NULL,
  expiry_ms       INTEGER NOT NULL,
  lock_token      TEXT,
  locked_until_ms INTEGER NOT NULL DEFAULT 0,
  delivery_count  INTEGER NOT NULL DEFAULT 0,
  doc             TEXT NOT NULL
);
CREATE INDEX hub_c2d_messages_device ON hub_c2d_messages (hub_name, device_id, seq);
CREATE INDEX hub_c2d_messages_expiry ON hub_c2d_messages (hub_name, expiry_ms);

-- Delivery-acknowledgement feedback records waiting for the service side's feedback receiver.
CREATE TABLE hub_c2d_feedback (
  id       INTEGER PRIMARY KEY AUTOINCREMENT,
  hub_name TEXT NOT NULL,
  doc      TEXT NOT NULL
);
CREATE INDEX hub_c2d_feedback_hub ON hub_c2d_feedback (hub_name, id);
