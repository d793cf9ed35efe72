/** The logger (common/logger.ts): pino behind the Logger port, redaction as a rule of the logger, both formats. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createJsonLogger, isSecretField, redact, scrubSecrets, type LogFields } from '../../src/common/logger.js';

const KEY = 'q1w2e3r4t5y6u7i8o9p0AbCdEfGhIjKlMnOpQrStUvW=';
const SIG = 'Zm9vYmFyYmF6cXV4cXV1eHF1dXhxdXV4cXV1eA%3D%3D';
const SAS = `SharedAccessSignature sr=0ne00000001%2Fregistrations%2Fdev-1&sig=${SIG}&se=1900000000&skn=registration`;
const CONN = `HostName=hub.example.net;SharedAccessKeyName=iothubowner;SharedAccessKey=${KEY}`;
const PEM = '-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBkeyMaterialkeyMaterialkeyMaterial\nAoGBAKeyMaterial==\n-----END EC PRIVATE KEY-----';
const BEARER = 'adm1n-t0ken-0123456789abcdef';
const SECRETS = [KEY, SIG, decodeURIComponent(SIG), 'MHcCAQEEIBkeyMaterial', BEARER, 'hunter2-password'];

function capture(level: 'debug' | 'info' = 'debug', base?: LogFields) {
  const lines: string[] = [];
  const logger = createJsonLogger({ level, write: (l) => lines.push(l), base });
  return { logger, lines, parsed: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

function assertClean(text: string) {
  for (const s of SECRETS) assert.ok(!text.includes(s), `a secret survived: ${s} in ${text}`);
  assert.doesNotMatch(text, /sig=/);
  assert.doesNotMatch(text, /SharedAccessKey=/);
  assert.doesNotMatch(text, /SharedAccessSignature sr=/);
  assert.doesNotMatch(text, /BEGIN [A-Z ]*PRIVATE KEY/);
}

test('JSON lines keep their shape: level as a word, ISO time, msg, the fields', () => {
  const { logger, lines, parsed } = capture('info', { node: 'a' });
  logger.debug('not written');
  logger.info('device assigned', { trackingId: 't-1', registrationId: 'dev-1', assignedHub: 'hub-1', keyName: 'registration' });
  logger.child({ hub: 'h' }).warn('careful');
  assert.equal(lines.length, 2);
  assert.ok(lines[0]!.includes('"msg":"device assigned"'));
  const [a, b] = parsed();
  assert.equal(a!.level, 'info');
  assert.equal(a!.msg, 'device assigned');
  assert.match(String(a!.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.deepEqual([a!.node, a!.trackingId, a!.registrationId, a!.assignedHub, a!.keyName], ['a', 't-1', 'dev-1', 'hub-1', 'registration']);
  assert.equal(b!.level, 'warn');
  assert.equal(b!.hub, 'h');
});

test('fields named like secrets are redacted, at any depth, in fields, child bindings and base fields', () => {
  const { logger, lines, parsed } = capture('debug', { connectionString: CONN });
  logger.child({ sasToken: SAS, auth: { Authorization: `Bearer ${BEARER}` } }).info('x', {
    primaryKey: KEY, secondaryKey: KEY, key: KEY, sas: SAS, signature: SIG, password: 'hunter2-password', token: BEARER,
    device: { authentication: { symmetricKey: { primaryKey: KEY, secondaryKey: KEY } } },
    list: [{ hub: { connectionString: CONN } }],
    a: { b: { c: { d: { e: { f: { g: { primary_key: KEY } } } } } } },
    enabled: true, hasToken: false,
  });
  const text = lines.join('\n');
  assertClean(text);
  const line = parsed()[0]!;
  assert.equal(line.primaryKey, '[redacted]');
  assert.equal(line.connectionString, '[redacted]');
  assert.equal(line.hasToken, false, 'booleans stay (they say whether, not what)');
  assert.equal((line.device as any).authentication.symmetricKey, '[redacted]');
});

test('secret-looking text is cut out of every string, the message included', () => {
  const { logger, lines } = capture();
  logger.info(`device sent ${SAS}`, {
    error: `hub refused: ${CONN}`, detail: `https://x.example/api?code=abc&sig=${SIG}&se=1`, cert: `here: ${PEM} done`,
    header: `Bearer ${BEARER}`, nested: [{ note: `SharedAccessKey=${KEY}` }], err: new Error(`boom ${SAS}`),
  });
  const text = lines.join('\n');
  assertClean(text);
  assert.match(text, /SharedAccessSignature \[redacted\]/);
  assert.match(text, /SharedAccessKeyName=iothubowner/, 'what is not secret stays');
  assert.match(text, /"type":"Error"/);
});

test('what is not secret is left alone', () => {
  for (const name of ['trackingId', 'keyName', 'assignedHub', 'registrationId', 'reasonClass', 'caKeyFile', 'ekDigest', 'signatureAlgorithm']) {
    assert.equal(isSecretField(name), false, name);
  }
  for (const name of ['primaryKey', 'secondary_key', 'sasToken', 'SAS', 'sig', 'Authorization', 'x-api-key', 'connectionString', 'password', 'clientSecret', 'hubKey']) {
    assert.equal(isSecretField(name), true, name);
  }
  assert.equal(scrubSecrets('signature verified for dev-1'), 'signature verified for dev-1');
  assert.deepEqual(redact({ n: 1, s: 'plain', d: null, u: undefined }), { n: 1, s: 'plain', d: null });
});

test('cycles, binary data and depth do not break a line', () => {
  const { logger, lines } = capture();
  const cyclic: Record<string, unknown> = { name: 'c' };
  cyclic.self = cyclic;
  logger.info('odd fields', { cyclic, blob: Buffer.from(KEY), when: new Date(0) });
  const line = JSON.parse(lines[0]!);
  assert.equal(line.cyclic.self, '[circular]');
  assert.equal(line.blob, `[${Buffer.byteLength(KEY)} bytes]`);
  assert.equal(line.when, '1970-01-01T00:00:00.000Z');
  assertClean(lines[0]!);
});

test('pretty format: human-readable lines, redacted the same way', () => {
  const lines: string[] = [];
  const logger = createJsonLogger({ level: 'info', format: 'pretty', colorize: false, write: (l) => lines.push(l) });
  logger.info(`device assigned ${SAS}`, { registrationId: 'dev-1', primaryKey: KEY, error: CONN });
  const text = lines.join('\n');
  assert.match(text, /INFO.*device assigned/);
  assert.match(text, /registrationId: "dev-1"/);
  assert.throws(() => JSON.parse(lines[0]!), 'not JSON');
  assertClean(text);
});
