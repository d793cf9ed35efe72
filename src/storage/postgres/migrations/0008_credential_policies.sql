-- Credential policies of a service instance (core/credentials/): issuing CA chain, validity, key types, and the
-- issuing CA's private key sealed by tls/certificate-issuer.ts (never returned by any API).
CREATE TABLE credential_policies (scope TEXT NOT NULL, key TEXT COLLATE "C" NOT NULL, etag TEXT, idx TEXT COLLATE "C", doc TEXT NOT NULL, PRIMARY KEY (scope, key));
