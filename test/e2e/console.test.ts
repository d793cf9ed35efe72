/**
 * The web console in real Chromium (Debian's `chromium`, driven by playwright-core) against a real `opendps serve`
 * on 127.0.26.1 (DPS) and 127.0.26.2 (built-in hub): sign in; create a symmetric-key enrollment with an initial twin;
 * an official device SDK registers; the live feed shows it; the registration record shows hub and substatus; the hub
 * explorer shows the device and its twin, and a desired-property edit there reaches the connected device; a wrong key
 * shows as refused with its reason; deleting the registration record lets the device provision again. A second test
 * pages through many enrollments (server-side paging with continuation tokens). Screenshots of every page go to the
 * test's temp folder.
 *
 * TLS trust: the browser trusts exactly the DPS server certificate the test's own CA issued, by its public-key hash
 * (`--ignore-certificate-errors-spki-list`), instead of ignoring certificate errors across the board.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { chromium } from 'playwright-core';
import { serveArgs, startServe, testTmpDir, type ServeHandle } from '../helpers/serve.js';
import { DeviceClient, DeviceMqtt, ProvisioningServiceClient, registerWithKeyHttp } from '../helpers/sdk.js';

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

describe('web console in Chromium', { skip: haveChromium ? false : `${CHROMIUM} is not installed (.ci/run installs it)` }, () => {
  before(async () => {
    // the console as `npm run build` builds it (dist/console), served by the server under test
    const built = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--config', join(ROOT, 'console', 'vite.config.mjs')], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(built.status, 0, `console build failed: ${built.stdout}${built.stderr}`);
    const dataDir = testTmpDir('e2e-console');
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

  test('pages through many enrollments with continuation tokens', async () => {
    const service = ProvisioningServiceClient.fromConnectionString(server.connection.serviceConnectionString);
    const total = 130;
    for (let i = 0; i < total; i += 10) { // DPS takes at most 10 per bulk operation
      const enrollments = Array.from({ length: Math.min(10, total - i) }, (_, j) => ({
        registrationId: `page-${String(i + j).padStart(4, '0')}`, attestation: { type: 'symmetricKey', symmetricKey: {} },
      }));
      // the SDK's bulk call settles only when given a callback (service-api.test.ts)
      const result = await new Promise<{ isSuccessful: boolean }>((res, rej) => service.runBulkEnrollmentOperation({ mode: 'create', enrollments }, (err: Error | null, r: { isSuccessful: boolean }) => (err ? rej(err) : res(r))));
      assert.equal(result.isSuccessful, true);
    }
    await go('/');
    await page.fill('textarea[name=connectionString]', server.connection.serviceConnectionString);
    await page.click('button[type=submit]');
    await go('/enrollments');
    const ids = new Set<string>();
    for (let p = 0; p < 10; p++) {
      await page.waitForSelector(`.pager >> text=Page ${p + 1}`);
      await page.waitForSelector('table[data-list=individual]:not([aria-busy=true]) tbody tr');
      for (const id of await page.$$eval('table[data-list=individual] tbody tr', (rows) => rows.map((r) => r.getAttribute('data-id') ?? ''))) ids.add(id);
      if (await page.isDisabled('.pager button:has-text("Next")')) break;
      await page.click('.pager button:has-text("Next")');
    }
    assert.equal(ids.size, total + 1, [...ids].join(',')); // and console-dev-1 from the test before
    await shot('14-enrollments-paged');
    await page.click('.pager button:has-text("Previous")');
    await page.waitForSelector('.pager >> text=Page 2');
  });
});
