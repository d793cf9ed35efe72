-- Hub devices being created by registration attempts (core/registration/reconcile.ts): keyed by
-- '{createdAt}/{idScope}/{registrationId}/{uuid}' in the global scope, so key order is age order.
CREATE TABLE hub_outbox (scope TEXT NOT NULL, key TEXT COLLATE "C" NOT NULL, etag TEXT, idx TEXT COLLATE "C", doc TEXT NOT NULL, PRIMARY KEY (scope, key));
