/**
 * @module setup/node-id
 * This node's identity across restarts: a UUID kept in `{dataDir}/node-id`, made at the first start. Claims on
 * registration records carry it with the start's own id (CoreSettings.attemptHolder), so after a crash the node knows
 * that claims it wrote before belong to attempts that died with it (core/registration/claim.ts). Nodes sharing a
 * PostgreSQL store each have their own data directory, hence their own id.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function loadOrCreateNodeId(dataDir: string): string {
  const file = join(dataDir, 'node-id');
  if (existsSync(file)) {
    const id = readFileSync(file, 'utf8').trim();
    if (UUID.test(id)) return id;
  }
  mkdirSync(dataDir, { recursive: true });
  const id = randomUUID();
  writeFileSync(file, `${id}\n`, { mode: 0o644 });
  return id;
}
