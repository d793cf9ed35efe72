-- CA certificates of a service instance (proof-of-possession verified or not).
CREATE TABLE certificates (scope TEXT NOT NULL, key TEXT COLLATE "C" NOT NULL, etag TEXT, idx TEXT COLLATE "C", doc TEXT NOT NULL, PRIMARY KEY (scope, key));
