/**
 * The web console in real Chromium (Debian's `chromium`, driven by playwright-core) against a real `opendps serve`
 * on 127.0.26.1 (DPS) and 127.0.26.2 (built-in hub): sign in; create a symmetric-key enrollment with an initial twin;
 * an official device SDK registers; the live feed shows it; the registration record shows hub and substatus; the hub
 * explorer shows the device and its twin, and a desired-property edit there reaches the connected device; a wrong key
 * shows as refused with its reason; deleting the registration record lets the device provision again. An X.509
 * enrollment group is created by uploading its signing certificate file; a device with a certificate it signed
 * registers through the official SDK and shows in the group's registration records (with the status filter). A
 * credential policy is created on its page (reached from the sidebar) and listed with its issuer, validity and key
 * types; its CA chain downloads as public certificates that verify to the OpenDPS CA; no private key is on the page or
 * in any `/opendps/credentialPolicies` answer it read; an enrollment names it (checked with the official
 * azure-iot-provisioning-service client) and the policy is deleted (the API allows it while in use). A last
 * test loads 100,000 enrollments through the bulk API (10 per call, 16 calls at once: about 10 s on SQLite;
 * OPENDPS_CONSOLE_LIST_COUNT sets another number) and pages through them in the browser, with the counts of
 * `GET /opendps/stats` on the Overview; bench/console-list.ts prints the figures in more detail. Screenshots of every
 * page go to the test's temp folder.
 *
 * TLS trust: the browser trusts exactly the DPS server certificate the test's own CA issued, by its public-key hash
 * (`--ignore-certificate-errors-spki-list`), instead of ignoring certificate errors across the board.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, BrowserContext, Page, Response } from 'playwright-core';
import { chromium } from 'playwright-core';
import { createSas, parseConnectionString } from '../../src/common/sas.js';
import { createCa, issueCertificate } from '../../src/tls/local-ca.js';
import { serveArgs, startServe, testTmpDir, type ServeHandle } from '../helpers/serve.js';
import { DeviceClient, DeviceMqtt, ProvisioningServiceClient, registerWithCert, registerWithKeyHttp } from '../helpers/sdk.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const DPS = '127.0.26.1';
const HUB = '127.0.26.2';
const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
const haveChromium = existsSync(CHROMIUM);

let server: ServeHandle;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let shots: string;
let dataDir: string;
const closers: Array<() => Promise<unknown>> = [];

/** The DPS server certificate's SPKI SHA-256 (base64), for Chromium's per-key trust flag. */
function spkiHash(pemFile: string): string {
  const cert = new X509Certificate(readFileSync(pemFile));
  return createHash('sha256').update(cert.publicKey.export({ type: 'spki', format: 'der' })).digest('base64');
}

async function shot(name: string): Promise<void> {
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
}

async function go(path: string): Promise<void> {
  await page.goto(`https://${DPS}/console${path}`);
}

/** Signs in unless the tab's session still holds the connection string. */
async function signIn(): Promise<void> {
  await go('/');
  const first = await page.waitForSelector('textarea[name=connectionString], [data-id-scope]');
  if (await first.getAttribute('name') === 'connectionString') {
    await page.fill('textarea[name=connectionString]', server.connection.serviceConnectionString);
    await page.click('button[type=submit]');
  }
  await page.waitForSelector(`[data-id-scope]:has-text("${server.connection.idScope}")`);
}

/** The service REST API from the test process (which trusts the test CA through NODE_EXTRA_CA_CERTS). */
const agent = new Agent({ keepAlive: true, maxSockets: 32 });
let sas: { value: string; expiry: number } | undefined;
function serviceCall<T = unknown>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; json: T }> {
  const now = Math.floor(Date.now() / 1000);
  if (!sas || sas.expiry - now < 300) {
    const cs = parseConnectionString(server.connection.serviceConnectionString);
    sas = { value: createSas({ resource: cs.HostName!, key: cs.SharedAccessKey!, keyName: cs.SharedAccessKeyName, expiry: now + 3600 }), expiry: now + 3600 };
  }
  const text = body === undefined ? '' : JSON.stringify(body);
  return new Promise((res, rej) => {
    const req = request({
      host: DPS, port: 443, method, agent, path: `${path}${path.includes('?') ? '&' : '?'}api-version=2021-10-01`,
      headers: { authorization: sas!.value, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)), ...headers },
    }, (r) => {
      let out = '';
      r.setEncoding('utf8');
      r.on('data', (d: string) => { out += d; });
      r.on('end', () => res({ status: r.statusCode ?? 0, headers: r.headers, json: (out ? JSON.parse(out) : undefined) as T }));
    });
    req.on('error', rej);
    req.end(text);
  });
}

const LIST_COUNT = Number(process.env.OPENDPS_CONSOLE_LIST_COUNT ?? 100_000);

/** Creates `count` symmetric-key enrollments `${prefix}NNNNNN` through the bulk API: 10 per call (DPS's limit), `parallel` calls at once. */
async function bulkCreate(prefix: string, count: number, parallel = 16): Promise<number> {
  const started = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const from = next;
      next = Math.min(count, next + 10);
      const enrollments = Array.from({ length: next - from }, (_, j) => ({
        registrationId: `${prefix}${String(from + j).padStart(6, '0')}`, attestation: { type: 'symmetricKey', symmetricKey: {} },
      }));
      const r = await serviceCall<{ isSuccessful: boolean; errors: unknown[] }>('POST', '/enrollments', { mode: 'create', enrollments });
      assert.equal(r.status, 200, JSON.stringify(r.json));
      assert.equal(r.json.isSuccessful, true, JSON.stringify(r.json.errors));
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return performance.now() - started;
}

describe('web console in Chromium', { skip: haveChromium ? false : `${CHROMIUM} is not installed (.ci/run installs it)` }, () => {
  before(async () => {
    // the console as `npm run build` builds it (dist/console), served by the server under test
    const built = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--config', join(ROOT, 'console', 'vite.config.mjs')], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(built.status, 0, `console build failed: ${built.stdout}${built.stderr}`);
    dataDir = testTmpDir('e2e-console');
    shots = join(dataDir, 'screenshots');
    server = await startServe(serveArgs(dataDir, DPS, [HUB]));
    browser = await chromium.launch({ executablePath: CHROMIUM, args: [...ARGS, `--ignore-certificate-errors-spki-list=${spkiHash(join(dataDir, 'tls', 'dps.pem'))}`] });
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    page.on('dialog', (d) => void d.accept());
  });

  after(async () => {
    for (const close of closers.reverse()) await close().catch(() => undefined);
    await browser?.close();
    await server?.stop();
  });

  test('serves the app with its content types, client routes and no traversal', async () => {
    const res = await page.request.get(`https://${DPS}/console/enrollments/x`);
    assert.equal(res.status(), 200);
    assert.match(res.headers()['content-type']!, /text\/html/);
    assert.match(await res.text(), /<div id="app">/);
    const html = await (await page.request.get(`https://${DPS}/console/`)).text();
    const js = /src="(\/console\/assets\/[^"]+\.js)"/.exec(html)![1]!;
    const asset = await page.request.get(`https://${DPS}${js}`);
    assert.match(asset.headers()['content-type']!, /text\/javascript/);
    assert.equal((await page.request.get(`https://${DPS}/console/assets/nope.js`)).status(), 404);
    for (const path of ['/console/%2e%2e/package.json', '/console/assets/..%2F..%2Fpackage.json', '/console/..%5C..%5Cpackage.json', '/console/assets/%2e%2e/%2e%2e/%2e%2e/package.json']) {
      const r = await page.request.get(`https://${DPS}${path}`);
      assert.ok([400, 404].includes(r.status()), `${path}: ${r.status()}`);
      assert.doesNotMatch(await r.text(), /"devDependencies"/);
    }
    // the console's API needs the service SAS like every service route
    assert.equal((await page.request.get(`https://${DPS}/opendps/console/connection?api-version=2021-10-01`)).status(), 401);
    assert.equal((await page.request.get(`https://${DPS}/opendps/hubs/${HUB}/devices?api-version=2021-10-01`)).status(), 401);
  });

  test('enroll, register, watch, explore the hub, refuse a wrong key, delete the record', async () => {
    const registrationId = 'console-dev-1';
    // sign in
    await go('/');
    await shot('01-sign-in');
    await page.fill('textarea[name=connectionString]', 'HostName=x;SharedAccessKeyName=y;SharedAccessKey=AAAA');
    await page.click('button[type=submit]');
    await page.waitForSelector('.signin [role=alert]');
    await page.fill('textarea[name=connectionString]', server.connection.serviceConnectionString);
    await page.click('button[type=submit]');
    await page.waitForSelector(`[data-id-scope]:has-text("${server.connection.idScope}")`);
    assert.equal(await page.evaluate(() => localStorage.length), 0, 'nothing in localStorage without "remember me"');
    await page.waitForSelector('.live-state.live');
    await shot('02-overview');

    // create an individual symmetric-key enrollment with an initial twin
    await page.click('nav >> text=Individual enrollments');
    await page.waitForSelector('text=No individual enrollments yet.');
    await shot('03-enrollments-empty');
    await page.click('text=Add individual enrollment');
    await page.fill('input[name=registrationId]', registrationId);
    await page.click('label:has(input[name=primaryKey]) >> text=Generate');
    await page.click('label:has(input[name=secondaryKey]) >> text=Generate');
    await page.fill('textarea[name=initialTwin]', '{"tags": {"site": "b43"}, "properties": {"desired": ');
    await page.waitForSelector('[data-field=initialTwin]:has-text("Not valid JSON")');
    assert.equal(await page.isDisabled('form.editor button[type=submit]'), true, 'invalid twin: nothing is saved');
    await page.fill('textarea[name=initialTwin]', '{"tags": {"site": "b43"}, "properties": {"desired": {"interval": 30}}}');
    await shot('04-enrollment-new');
    await page.click('form.editor button[type=submit]');
    await page.waitForURL(`**/console/enrollments/${registrationId}`);
    await page.waitForSelector('text=The device has not registered yet.');
    const key = await page.inputValue('input[name=primaryKey]');
    assert.ok(key.length > 40);

    // the API's refusal shows next to the field
    await go('/enrollments/new');
    await page.fill('input[name=registrationId]', 'bad id!');
    await page.click('form.editor button[type=submit]');
    await page.waitForSelector('form.editor [role=alert]');
    await shot('05-enrollment-error');

    // the live feed shows a registration by the official device SDK, and a refused one with its reason
    await go('/');
    await page.waitForSelector('.live-state.live');
    const r = await registerWithKeyHttp(DPS, server.connection.idScope, registrationId, key);
    assert.equal(r.status, 'assigned');
    await page.waitForSelector(`tr.outcome-assigned[data-registration-id=${registrationId}]`, { timeout: 20_000 });
    const wrongKey = Buffer.alloc(32, 7).toString('base64');
    await assert.rejects(registerWithKeyHttp(DPS, server.connection.idScope, registrationId, wrongKey));
    const refused = await page.waitForSelector(`tr.outcome-refused[data-registration-id=${registrationId}]`, { timeout: 20_000 });
    assert.ok((await refused.innerText()).trim().length > 0);
    assert.ok(await refused.$('.reason'), 'the refusal carries its reason');
    await shot('06-live-feed');

    // the registration record shows the hub and substatus
    await go(`/enrollments/${registrationId}`);
    await page.waitForSelector(`dd[data-key="Assigned hub"]:has-text("${HUB}")`);
    await page.waitForSelector('dd[data-key=Substatus]:has-text("initialAssignment")');
    await shot('07-enrollment-registered');

    // hub explorer: the device with the enrollment's twin; a desired edit reaches the connected device
    const device = DeviceClient.fromConnectionString(`HostName=${r.assignedHub};DeviceId=${r.deviceId};SharedAccessKey=${key}`, DeviceMqtt);
    closers.push(() => device.close());
    await device.open();
    const twin = await device.getTwin();
    const pushed = new Promise<Record<string, unknown>>((res) => twin.on('properties.desired', (d: Record<string, unknown>) => { if (d.interval === 60) res(d); }));
    await go(`/hubs/${HUB}`);
    await page.click(`tr[data-device=${r.deviceId}] a`);
    await page.waitForSelector('textarea[name=tags]');
    assert.deepEqual(JSON.parse(await page.inputValue('textarea[name=tags]')), { site: 'b43' });
    assert.equal(JSON.parse(await page.inputValue('textarea[name=desired]')).interval, 30);
    await shot('08-hub-device');
    await page.fill('textarea[name=desired]', '{"interval": 60}');
    await page.click('button:has-text("Save desired")');
    const desired = await Promise.race([pushed, new Promise<never>((_, rej) => setTimeout(() => rej(new Error('no desired patch at the device')), 15_000))]);
    assert.equal(desired.interval, 60);

    // deleting the registration record lets the device provision from scratch
    await go(`/registrations/${registrationId}`);
    await page.waitForSelector(`[data-registration=${registrationId}]`);
    await shot('09-registration');
    await page.click('button:has-text("Delete registration record")');
    await page.waitForURL('**/console/registrations');
    await go(`/registrations/${registrationId}`);
    await page.waitForSelector('[role=alert]');
    const again = await registerWithKeyHttp(DPS, server.connection.idScope, registrationId, key);
    assert.equal(again.status, 'assigned');

    // the other pages render
    for (const [path, name] of [['/groups', '10-groups'], ['/linked-hubs', '11-linked-hubs'], ['/certificates', '12-certificates'], ['/hubs', '13-hubs']] as const) {
      await go(path);
      await page.waitForLoadState('networkidle').catch(() => undefined);
      await page.waitForSelector('.page h1');
      await shot(name);
    }

    // sign-out clears the session
    await page.click('button.signout');
    await page.waitForSelector('textarea[name=connectionString]');
    assert.equal(await page.evaluate(() => sessionStorage.length + localStorage.length), 0);
  });

  test('an X.509 group from an uploaded signing certificate; a device it signed registers and shows in its records', async () => {
    const groupId = 'console-x509-group';
    const ca = createCa('console-x509-signer');
    const pemFile = join(dataDir, 'console-signer.pem');
    writeFileSync(pemFile, ca.certPem);
    await signIn();
    await go('/groups/new');
    await page.fill('input[name=enrollmentGroupId]', groupId);
    await page.selectOption('select[name=attestationType]', 'x509');
    await page.setInputFiles('input[name=primaryCertificate]', pemFile);
    await page.fill('textarea[name=initialTwin]', '{"tags": {"fleet": "x509"}}');
    await shot('15-group-x509-new');
    await page.click('form.editor button[type=submit]');
    await page.waitForURL(`**/console/groups/${groupId}`);
    // the sidebar marks the section of a deep page (a group's own page: Enrollment groups)
    assert.equal(await page.getAttribute('nav a[aria-current=page]', 'href'), '/console/groups');
    // the server parsed the uploaded certificate: its subject and thumbprint show on the group's page
    await page.waitForSelector('dd[data-key=Subject]:has-text("CN=console-x509-signer")');
    const thumbprint = new X509Certificate(ca.certPem).fingerprint.replace(/:/g, '');
    assert.equal((await page.innerText('dd[data-key="SHA-1"]')).trim().toUpperCase(), thumbprint.toUpperCase());
    await page.waitForSelector('text=No device has registered through this group yet.');

    // an official device SDK registers with a certificate the group's signing certificate issued
    const registrationId = 'console-x509-dev-1';
    const device = issueCertificate({ commonName: registrationId, usage: 'client', issuer: ca });
    const r = await registerWithCert('http', DPS, server.connection.idScope, registrationId, device.certPem, device.keyPem);
    assert.equal(r.status, 'assigned');
    assert.equal(r.x509.enrollmentGroupId, groupId);

    // the group's registration records show it
    await page.reload();
    const row = await page.waitForSelector(`table[data-list=group-registrations] tr[data-registration-id=${registrationId}]`);
    assert.equal(await row.getAttribute('data-status'), 'assigned');
    assert.match(await row.innerText(), new RegExp(HUB.replace(/\./g, '\\.')));
    await shot('16-group-x509-registered');

    // registration records: the group's list, filtered by status (over the page loaded, as the page says)
    await go('/registrations');
    await page.fill('input[name=groupId]', groupId);
    await page.click('button:has-text("List group")');
    await page.waitForSelector(`tr[data-registration-id=${registrationId}]`);
    await page.selectOption('select[name=statusFilter]', 'failed');
    await page.waitForSelector('text=No record with status failed on this page.');
    await page.waitForSelector('[data-filter-note]:has-text("applies to the page loaded")');
    await page.selectOption('select[name=statusFilter]', 'assigned');
    await page.waitForSelector(`tr[data-registration-id=${registrationId}][data-status=assigned]`);
    await shot('17-registrations-filtered');
    await page.click(`tr[data-registration-id=${registrationId}] a`);
    await page.waitForSelector(`dd[data-key="Assigned hub"]:has-text("${HUB}")`);

    // the Overview's counts (GET /opendps/stats) include the group and the assigned record
    await go('/');
    await page.waitForSelector('[data-count=groups]');
    const stats = (await serviceCall<{ groups: number; registrations: Record<string, number> }>('GET', '/opendps/stats')).json;
    assert.ok(stats.groups >= 1 && stats.registrations.assigned! >= 1, JSON.stringify(stats));
    assert.equal(await page.innerText('[data-count=groups]'), String(stats.groups));
    assert.match(await page.innerText('[data-count=registrations-assigned]'), new RegExp(`\\b${stats.registrations.assigned}$`));
  });

  test('credential policies: created from the page, no key anywhere, named by an enrollment, deleted', async () => {
    const policy = 'console-fleet';
    const registrationId = 'console-cred-dev-1';
    // every answer of /opendps/credentialPolicies the page reads, to check that none carries key material
    const answers: Array<Promise<{ method: string; status: number; text: string }>> = [];
    const onResponse = (r: Response) => {
      if (new URL(r.url()).pathname.startsWith('/opendps/credentialPolicies')) {
        answers.push(r.text().then((text) => ({ method: r.request().method(), status: r.status(), text }), () => ({ method: r.request().method(), status: r.status(), text: '' })));
      }
    };
    page.on('response', onResponse);
    try {
      await signIn();
      await page.click('nav >> text=Credential policies');
      await page.waitForURL('**/console/credential-policies');
      await page.waitForSelector('[data-page=credential-policies] >> text=No credential policy.');
      assert.equal(await page.innerText('nav a[aria-current=page]'), 'Credential policies', 'the sidebar marks the page shown');
      await shot('20-credential-policies-empty');

      // create one through the form: its own intermediate CA, 7 days, ECDSA P-384 and RSA 2048 CSRs
      await page.fill('input[name=policyName]', policy);
      await page.selectOption('select[name=issuer]', 'intermediate');
      await page.fill('input[name=validityInDays]', '7');
      await page.uncheck('input[name=keyType-ecdsa-p256]');
      await page.check('input[name=keyType-rsa-2048]');
      const created = page.waitForResponse((r) => r.request().method() === 'PUT' && new URL(r.url()).pathname === `/opendps/credentialPolicies/${policy}`);
      await page.click('form.editor button[type=submit]');
      assert.equal((await created).status(), 201);
      const row = await page.waitForSelector(`tr[data-credential-policy=${policy}]`);
      const cells = await row.$$eval('td', (tds) => tds.map((td) => (td as HTMLElement).innerText.trim()));
      assert.deepEqual(cells.slice(0, 4), [policy, 'intermediate', '7', 'ecdsa-p384, rsa-2048']);
      await shot('21-credential-policy-created');

      // the same name again: the API's 409 shows on the form, the list keeps one row
      await page.fill('input[name=policyName]', policy);
      await page.click('form.editor button[type=submit]');
      await page.waitForSelector('form.editor [role=alert]:has-text("exists")');
      assert.equal((await page.$$(`tr[data-credential-policy=${policy}]`)).length, 1);

      // the CA chain download: public certificates only, the policy's intermediate signed by the OpenDPS CA
      const [download] = await Promise.all([page.waitForEvent('download'), page.click(`tr[data-credential-policy=${policy}] button:has-text("Download CA chain")`)]);
      assert.equal(download.suggestedFilename(), `${policy}-ca-chain.pem`);
      const chainFile = join(dataDir, `${policy}-ca-chain.pem`);
      await download.saveAs(chainFile);
      const chainPem = readFileSync(chainFile, 'utf8');
      assert.doesNotMatch(chainPem, /PRIVATE KEY/);
      const chain = chainPem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n/g)!.map((p) => new X509Certificate(p));
      assert.equal(chain.length, 2, 'intermediate, then root');
      assert.match(chain[0]!.subject, new RegExp(`credential policy ${policy}`));
      assert.ok(chain[0]!.ca && chain[0]!.verify(chain[1]!.publicKey), 'the intermediate is a CA signed by the root');
      assert.ok(new X509Certificate(readFileSync(join(dataDir, 'tls', 'dps.pem'))).verify(chain[1]!.publicKey), 'the root is the OpenDPS CA');

      // no private key on the page, and none in any answer the page read
      assert.doesNotMatch(await page.content(), /PRIVATE KEY/);
      assert.doesNotMatch(await page.innerText('body'), /PRIVATE KEY|sealedKey/i);
      const seen = await Promise.all(answers);
      const reads = seen.filter((a) => a.method === 'GET' && a.status === 200);
      assert.ok(reads.length >= 2 && seen.some((a) => a.method === 'PUT' && a.status === 201), JSON.stringify(seen.map((a) => `${a.method} ${a.status}`)));
      for (const a of seen) {
        assert.doesNotMatch(a.text, /PRIVATE KEY/);
        const body = a.text ? JSON.parse(a.text) as Record<string, unknown> : {};
        for (const p of Array.isArray(body.value) ? body.value as Array<Record<string, unknown>> : [body]) {
          assert.deepEqual(Object.keys(p).filter((k) => /key/i.test(k) && k !== 'keyTypes'), [], `${a.method} answer has a key field: ${Object.keys(p).join(', ')}`);
        }
      }
      const listed = JSON.parse(reads[reads.length - 1]!.text) as { value: Array<{ name: string; caCertificates: string[] }> };
      assert.deepEqual(listed.value.map((p) => p.name), [policy]);
      assert.deepEqual(listed.value[0]!.caCertificates, chain.map((c) => c.raw.toString('base64')), 'the download is the chain the API returned');

      // an enrollment names it: a name that is no policy is refused next to the field, the policy's name is saved
      await page.click('nav >> text=Individual enrollments');
      await page.click('text=Add individual enrollment');
      await page.fill('input[name=registrationId]', registrationId);
      await page.fill('input[name=credentialPolicyName]', 'no-such-policy');
      await page.click('form.editor button[type=submit]');
      await page.waitForSelector('[data-field=credentialPolicyName]:has-text("no credential policy named")');
      await page.fill('input[name=credentialPolicyName]', policy);
      await shot('22-enrollment-credential-policy');
      await page.click('form.editor button[type=submit]');
      await page.waitForURL(`**/console/enrollments/${registrationId}`);
      await page.waitForSelector('[data-page=enrollment] .toolbar');
      assert.equal(await page.inputValue('input[name=credentialPolicyName]'), policy);
      const service = ProvisioningServiceClient.fromConnectionString(server.connection.serviceConnectionString);
      const { responseBody: saved } = await service.getIndividualEnrollment(registrationId);
      assert.equal(saved.credentialPolicyName, policy);

      // deleting it from the page: the API allows it for a policy in use (the enrollment keeps the name; CSRs under it
      // are then refused, docs/certificate-issuance.md)
      await page.click('nav >> text=Credential policies');
      await page.click(`tr[data-credential-policy=${policy}] button:has-text("Delete")`);
      await page.waitForSelector(`tr[data-credential-policy=${policy}]`, { state: 'detached' });
      await page.waitForSelector('[data-page=credential-policies] >> text=No credential policy.');
      await shot('23-credential-policy-deleted');
      assert.equal((await serviceCall('GET', `/opendps/credentialPolicies/${policy}`)).status, 404);
      assert.equal((await service.getIndividualEnrollment(registrationId)).responseBody.credentialPolicyName, policy);
    } finally {
      page.off('response', onResponse);
    }
  });

  test(`a large list: ${LIST_COUNT} enrollments through the bulk API, paged in the browser`, async (t) => {
    const before = (await serviceCall<{ enrollments: number }>('GET', '/opendps/stats')).json.enrollments;
    const loadMs = await bulkCreate('big-', LIST_COUNT);
    t.diagnostic(`bulk load: ${LIST_COUNT} enrollments in ${(loadMs / 1000).toFixed(1)} s (${Math.round(LIST_COUNT / (loadMs / 1000))}/s, 10 per call, 16 calls at once)`);

    // counts: one store query, not a walk through the list
    const t0 = performance.now();
    const stats = await serviceCall<{ enrollments: number; groups: number; registrations: Record<string, number> }>('GET', '/opendps/stats');
    const statsMs = performance.now() - t0;
    assert.equal(stats.status, 200);
    assert.equal(stats.json.enrollments, before + LIST_COUNT);
    t.diagnostic(`GET /opendps/stats at ${stats.json.enrollments} enrollments: ${statsMs.toFixed(0)} ms`);
    assert.equal((await serviceCall('GET', '/opendps/stats', undefined, { authorization: 'SharedAccessSignature sr=x&sig=y&se=1&skn=z' })).status, 401);

    // every enrollment once through the query API, 1000 a page; the deepest page costs about what the first does
    const pageMs: number[] = [];
    const seen = new Set<string>();
    let token: string | undefined;
    do {
      const q0 = performance.now();
      const r = await serviceCall<Array<{ registrationId: string }>>('POST', '/enrollments/query', { query: '*' }, { 'x-ms-max-item-count': '1000', ...(token ? { 'x-ms-continuation': token } : {}) });
      pageMs.push(performance.now() - q0);
      assert.equal(r.status, 200);
      for (const e of r.json) seen.add(e.registrationId);
      token = r.headers['x-ms-continuation'] as string | undefined;
    } while (token);
    assert.equal(seen.size, before + LIST_COUNT);
    t.diagnostic(`query API, 1000 a page: first page ${pageMs[0]!.toFixed(0)} ms, last (page ${pageMs.length}) ${pageMs[pageMs.length - 1]!.toFixed(0)} ms, slowest ${Math.max(...pageMs).toFixed(0)} ms`);

    // the browser: Overview counts, then the list page by page (50 a page, continuation tokens)
    await signIn();
    await page.waitForSelector(`[data-count=enrollments]:has-text("${before + LIST_COUNT}")`);
    await shot('18-overview-large');
    await go('/enrollments');
    const ids = new Set<string>();
    const browserMs: number[] = [];
    const pages = 10;
    for (let p = 0; p < pages; p++) {
      await page.waitForSelector(`.pager >> text=Page ${p + 1}`);
      await page.waitForSelector('table[data-list=individual]:not([aria-busy=true]) tbody tr');
      const rows = await page.$$eval('table[data-list=individual] tbody tr', (trs) => trs.map((r) => r.getAttribute('data-id') ?? ''));
      assert.equal(rows.length, 50);
      for (const id of rows) ids.add(id);
      if (p === pages - 1) break;
      const c0 = performance.now();
      await page.click('.pager button:has-text("Next")');
      await page.waitForSelector(`.pager >> text=Page ${p + 2}`);
      await page.waitForSelector('table[data-list=individual]:not([aria-busy=true]) tbody tr');
      browserMs.push(performance.now() - c0);
    }
    assert.equal(ids.size, pages * 50, 'no enrollment twice across pages');
    t.diagnostic(`browser: Next page in ${Math.max(...browserMs).toFixed(0)} ms at most (median ${browserMs.sort((a, b) => a - b)[browserMs.length >> 1]!.toFixed(0)} ms)`);
    assert.ok(Math.max(...browserMs) < 5_000, 'a page of the list within 5 s');
    await shot('19-enrollments-large');
    await page.click('.pager button:has-text("Previous")');
    await page.waitForSelector(`.pager >> text=Page ${pages - 1}`);

    // search finds an enrollment deep in the list
    const deep = `big-${String(LIST_COUNT - 1).padStart(6, '0')}`;
    await page.fill('form.search input[name=search]', deep);
    await page.click('form.search button[type=submit]');
    await page.waitForURL(`**/console/enrollments/${deep}`);
    await page.waitForSelector(`.page h1:has-text("${deep}")`);
  });
});
