// The web UI in headless Chromium (playwright-core), against the real
// hearth that tests/integration/test_ui_browser.py started and loaded.
// Each case opens a fresh page, asserts on what was drawn (the graphs
// record their rectangles in window.hearth.*.rects; colours are read back
// from the canvas pixels), fails on any console error or page error, and
// saves a screenshot under SCREENSHOT_DIR.
//
// Environment: HEARTH_URL, HEARTH_MT_URL (multi-tenancy on, tenant
// team-a), HEARTH_UI_FIXTURE (JSON facts of the loaded data),
// PLAYWRIGHT_PREFIX (where playwright-core is installed), CHROMIUM,
// SCREENSHOT_DIR.
import assert from 'node:assert/strict';
import { test, before, after } from 'node:test';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import { parseProfile, gunzipIfNeeded, profileToGraph, defaultTypeIndex } from '../../querier/ui/pprof.js';
import { diffColor } from '../../querier/ui/flame.js';

const require = createRequire(path.join(process.env.PLAYWRIGHT_PREFIX, 'node_modules') + '/');
const { chromium } = require('playwright-core');

const BASE = process.env.HEARTH_URL;
const FX = JSON.parse(process.env.HEARTH_UI_FIXTURE);
const SHOTS = process.env.SCREENSHOT_DIR;
const CPU = 'process_cpu:cpu:nanoseconds:cpu:nanoseconds';
const SHOP = `${CPU}{service_name="shop"}`;
const V1 = `${CPU}{service_name="shop", version="1"}`;
const V2 = `${CPU}{service_name="shop", version="2"}`;
const SEC = 1e9; // shop: 100 samples at 100 Hz

let browser, context;

before(async () => {
	browser = await chromium.launch({
		executablePath: process.env.CHROMIUM, headless: true,
		args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
			'--disable-component-update', '--disable-sync'],
	});
	context = await browser.newContext({ viewport: { width: 1400, height: 900 }, acceptDownloads: true });
});

after(async () => {
	if (browser) await browser.close();
});

const url = (params, base = BASE) => base + '/?' + new URLSearchParams(params).toString();

// A page whose console errors fail the case; allowed: patterns of
// errors the case provokes on purpose.
async function open(t, href, allowed = []) {
	const page = await context.newPage();
	const errors = [];
	page.on('console', (m) => {
		if (m.type() === 'error' && !allowed.some((re) => re.test(m.text()))) errors.push(m.text());
	});
	page.on('pageerror', (e) => errors.push('page error: ' + e.message));
	t.after(async () => {
		await page.screenshot({ path: path.join(SHOTS, t.name.replace(/[^a-z0-9]+/gi, '_') + '.png'), fullPage: true });
		await page.close();
		assert.deepEqual(errors, [], 'console errors');
	});
	if (href) {
		await page.goto(href);
		await drawn(page);
	}
	return page;
}

// Wait until the page has drawn a render (or another view's data).
async function drawn(page, n = 1) {
	await page.waitForFunction((k) => window.hearth && (window.hearth.paints.length >= k ||
		document.getElementById('range-info').textContent !== ''), n);
}

async function paintsAfter(page, n) {
	await page.waitForFunction((k) => window.hearth.paints.length > k, n);
}

const rects = (page, g = 'flame') => page.evaluate((name) => window.hearth[name].rects, g);
async function rect(page, name, g = 'flame') {
	const r = (await rects(page, g)).find((x) => x.name === name);
	assert.ok(r, `${name} is not drawn in ${g}`);
	return r;
}

// Colour at (x, y) CSS px of a graph's canvas as 'rgb(r,g,b)'.
function pixel(page, g, x, y) {
	return page.evaluate(([name, px, py]) => {
		const cv = window.hearth[name].canvas, d = window.devicePixelRatio || 1;
		const p = cv.getContext('2d').getImageData(Math.floor(px * d), Math.floor(py * d), 1, 1).data;
		return `rgb(${p[0]},${p[1]},${p[2]})`;
	}, [g, x, y]);
}

// A point inside a frame away from its label (text starts at the left).
const corner = (r) => [r.x + r.w - 3, r.y + 2];

async function clickFrame(page, r, g = 'flame') {
	const box = await page.locator(`canvas#${g === 'flame' ? 'flame' : g}`).boundingBox();
	await page.mouse.click(box.x + r.x + r.w / 2, box.y + r.y + 8);
}

const params = (page) => page.evaluate(() => Object.fromEntries(new URLSearchParams(location.search)));
const canvasWidth = (page, g = 'flame') => page.evaluate((name) => window.hearth[name].canvas.clientWidth, g);
const text = (page, sel) => page.locator(sel).first().textContent();

test('flame graph: table first row, zoom, tooltip, search', async (t) => {
	const page = await open(t, url({ query: SHOP }));
	const first = page.locator('#top tbody tr').first();
	assert.equal(await first.locator('td').nth(0).textContent(), 'compute');
	assert.equal(await first.locator('td').nth(1).textContent(), '1.20 s (40.0%)');
	assert.equal(await page.evaluate(() => window.hearth.flame.data.numTicks), 3 * SEC);
	const w = await canvasWidth(page);
	const work = await rect(page, 'work');
	assert.ok(Math.abs(work.w - w * 160 / 300) < 1, `work is ${work.w} px of ${w}`);
	await clickFrame(page, work);
	assert.equal(await text(page, '#zoomed'), 'zoomed: work');
	const zw = await rect(page, 'work');
	assert.ok(Math.abs(zw.w - w) < 1, `zoomed work spans ${zw.w} of ${w} px`);
	const compute = await rect(page, 'compute');
	assert.ok(Math.abs(compute.w - w * 120 / 160) < 1, `compute is ${compute.w} px`);
	const box = await page.locator('canvas#flame').boundingBox();
	await page.mouse.move(box.x + compute.x + compute.w / 2, box.y + compute.y + 8);
	const tip = await text(page, '#tooltip');
	assert.match(tip, /compute/);
	assert.match(tip, /total 1\.20 s \(40\.0%\)/);
	assert.match(tip, /self 1\.20 s \(40\.0%\)/);
	await page.click('#reset');
	assert.equal(await text(page, '#zoomed'), '');
	await page.fill('#search', 'idle');
	assert.equal(await text(page, '#match'), 'matches: 200 ms (6.67%)');
	assert.equal(await pixel(page, 'flame', ...corner(await rect(page, 'idle'))), 'rgb(217,70,239)');
	assert.equal(await pixel(page, 'flame', ...corner(await rect(page, 'gc'))), 'rgb(228,228,228)');
	assert.equal((await params(page)).search, 'idle');
	// The header names the server's build (GET /api/v1/status/buildinfo).
	const b = (await (await fetch(BASE + '/api/v1/status/buildinfo')).json()).data;
	await page.waitForFunction(() => document.getElementById('version').textContent !== '');
	assert.equal(await text(page, '#version'), b.version);
	assert.equal(await page.getAttribute('#version', 'title'),
		`hearth ${b.version} (revision ${b.revision}, branch ${b.branch}, ${b.buildDate}, ${b.goVersion})`);
});

test('icicle and flame orientation', async (t) => {
	const page = await open(t, url({ query: SHOP }));
	assert.equal((await rect(page, 'total')).y, 0);
	const n = await page.evaluate(() => window.hearth.flame.data.levels.length);
	await page.check('#invert');
	await paintsAfter(page, 1);
	assert.equal((await params(page)).invert, '1');
	assert.equal((await rect(page, 'total')).y, (n - 1) * 18);
	assert.equal((await rect(page, 'main')).y, (n - 2) * 18);
	await page.goBack();
	await paintsAfter(page, 2);
	assert.equal((await rect(page, 'total')).y, 0);
	assert.equal(await page.isChecked('#invert'), false);
});

test('colour by package', async (t) => {
	const page = await open(t, url({ query: `${CPU}{service_name="${FX.cpu.service}"}`, from: FX.cpu.from, until: FX.cpu.until }));
	const all = await rects(page);
	const colour = async (name) => pixel(page, 'flame', ...corner(all.find((r) => r.name === name)));
	const rt = all.filter((r) => r.name.startsWith('runtime.') && r.w > 8).map((r) => r.name);
	assert.ok(rt.length >= 3, 'runtime frames drawn: ' + rt);
	const c0 = await colour(rt[0]);
	for (const n of rt.slice(1)) assert.equal(await colour(n), c0, n + ' has its own colour');
	const mainFrame = all.find((r) => r.name.startsWith('main.') && r.w > 5);
	assert.ok(mainFrame, 'a main.* frame is drawn');
	assert.notEqual(await colour(mainFrame.name), c0);
	await page.selectOption('#color', 'function');
	await paintsAfter(page, 1);
	assert.equal((await params(page)).color, 'function');
	const per = new Set();
	for (const n of rt) per.add(await colour(n));
	assert.ok(per.size > 1, 'colour by function gives runtime frames several colours');
});

test('top table row highlights the function in the graph', async (t) => {
	const page = await open(t, url({ query: SHOP }));
	await page.locator('#top tbody tr', { hasText: 'idle' }).click();
	assert.equal(await page.locator('#top tbody tr.selected td').first().textContent(), 'idle');
	assert.equal((await params(page)).fn, 'idle');
	assert.equal(await pixel(page, 'flame', ...corner(await rect(page, 'idle'))), 'rgb(217,70,239)');
	assert.equal(await pixel(page, 'flame', ...corner(await rect(page, 'compute'))), 'rgb(228,228,228)');
	assert.equal(await text(page, '#match'), 'matches: 200 ms (6.67%)');
	assert.equal(await text(page, '#to-sandwich'), 'Sandwich: idle');
	await page.locator('#top tbody tr', { hasText: 'idle' }).click();
	assert.equal(await page.locator('#top tbody tr.selected').count(), 0);
	assert.notEqual(await pixel(page, 'flame', ...corner(await rect(page, 'compute'))), 'rgb(228,228,228)');
	// Sortable and filterable.
	await page.click('#top th[data-sort="total"]');
	assert.equal(await page.locator('#top tbody tr td').first().textContent(), 'main');
	await page.fill('#filter', 'ga');
	assert.deepEqual(await page.locator('#top tbody tr td:first-child').allTextContents(), []);
	await page.fill('#filter', 'c');
	assert.deepEqual(await page.locator('#top tbody tr td:first-child').allTextContents(), ['compute', 'alloc', 'gc']);
});

test('sandwich view of one function', async (t) => {
	const page = await open(t, url({ query: SHOP }));
	await page.locator('#top tbody tr', { hasText: 'work' }).click();
	await page.click('#to-sandwich');
	await paintsAfter(page, 1);
	const p = await params(page);
	assert.equal(p.view, 'sandwich');
	assert.equal(p.fn, 'work');
	assert.equal(await text(page, '#sandwich-title'), 'work · 1.60 s (53.3%)');
	const w = await canvasWidth(page, 'callers');
	// Callers: work at the bottom, main above it.
	const cw = await rect(page, 'work', 'callers'), cm = await rect(page, 'main', 'callers');
	assert.ok(cm.y < cw.y, 'caller above the function');
	assert.ok(Math.abs(cm.w - w) < 1);
	// Callees: work on top, compute (1.2 s of 1.6 s) below.
	const ew = await rect(page, 'work', 'callees'), ec = await rect(page, 'compute', 'callees');
	assert.ok(ew.y < ec.y);
	assert.ok(Math.abs(ec.w - w * 0.75) < 1, `compute ${ec.w} of ${w}`);
	// Another row: the sandwich follows.
	await page.locator('#top tbody tr', { hasText: 'alloc' }).click();
	await page.waitForFunction(() => document.getElementById('sandwich-title').textContent.startsWith('alloc'));
	assert.deepEqual((await rects(page, 'callers')).map((r) => r.name), ['alloc', 'leak', 'main']);
});

const diffParams = (view) => ({ view, query: SHOP, leftQuery: V1, leftFrom: 'now-1h', leftUntil: 'now',
	rightQuery: V2, rightFrom: 'now-1h', rightUntil: 'now' });

test('diff: legend, colours and regressions table', async (t) => {
	const page = await open(t, url(diffParams('diff')));
	await page.waitForFunction(() => window.hearth.flame.data && window.hearth.flame.data.format === 'double');
	assert.equal(await page.isVisible('#legend'), true);
	assert.equal(await text(page, '#legend .lg-text'), 'green: shrank, red: grew (share of total, comparison vs baseline)');
	const rows = page.locator('#regressions tbody tr');
	assert.deepEqual(await rows.first().locator('td').allTextContents(), ['alloc', '0 ns (0.00%)', '1 s (50.0%)', 'new']);
	assert.equal(await rows.first().locator('td.change').evaluate((e) => getComputedStyle(e).backgroundColor), 'rgb(230, 40, 40)');
	assert.deepEqual(await rows.nth(5).locator('td').allTextContents(), ['compute', '600 ms (60.0%)', '600 ms (30.0%)', '-50.0%']);
	assert.equal(await pixel(page, 'flame', ...corner(await rect(page, 'leak'))), 'rgb(230,40,40)');
	assert.equal(await pixel(page, 'flame', ...corner(await rect(page, 'compute'))), diffColor(-0.5).replace(/ /g, ''));
	assert.equal(await pixel(page, 'flame', ...corner(await rect(page, 'compute'))), 'rgb(115,185,130)');
	// Tooltip names both sides.
	const leak = await rect(page, 'leak');
	const box = await page.locator('canvas#flame').boundingBox();
	await page.mouse.move(box.x + leak.x + leak.w / 2, box.y + leak.y + 8);
	assert.match(await text(page, '#tooltip'), /baseline 0 ns \(0\.00%\).*comparison 1 s \(50\.0%\).*change new/s);
	await page.mouse.move(0, 0);
	await page.screenshot({ path: path.join(SHOTS, 'readme_diff.png') });
	// A regression row highlights its frames.
	await rows.first().click();
	const alloc = await rect(page, 'alloc');
	assert.equal(await pixel(page, 'flame', alloc.x + alloc.w / 2, alloc.y + 1), 'rgb(124,58,237)');
	assert.equal(await text(page, '#match'), 'matches: baseline 0 ns (0.00%) · comparison 1 s (50.0%)');
});

test('comparison: both flame graphs side by side', async (t) => {
	const page = await open(t, url(diffParams('compare')));
	await page.waitForFunction(() => window.hearth.compareR.data !== null);
	assert.equal(await text(page, '#compare-left-title'), 'Baseline · 1 s');
	assert.equal(await text(page, '#compare-right-title'), 'Comparison · 2 s');
	const w = await canvasWidth(page, 'compareL');
	assert.ok(!(await rects(page, 'compareL')).some((r) => r.name === 'leak'));
	assert.ok(Math.abs((await rect(page, 'compute', 'compareL')).w - w * 0.6) < 1);
	assert.ok(Math.abs((await rect(page, 'leak', 'compareR')).w - w * 0.5) < 1);
	assert.ok(Math.abs((await rect(page, 'compute', 'compareR')).w - w * 0.3) < 1);
	const l = await page.locator('#compare-left').boundingBox(), r = await page.locator('#compare-right').boundingBox();
	assert.ok(r.x >= l.x + l.width, 'comparison right of the baseline');
	// The view's URL reopens it.
	const again = await open(t, page.url());
	await again.waitForFunction(() => window.hearth.compareR.data !== null);
	assert.equal(await text(again, '#compare-right-title'), 'Comparison · 2 s');
});

test('label explorer: share per value and a graph per value', async (t) => {
	const page = await open(t, url({ view: 'labels', query: SHOP, label: 'pod' }));
	await page.waitForFunction(() => document.querySelectorAll('#label-values tbody tr').length === 2);
	const rows = page.locator('#label-values tbody tr');
	assert.deepEqual((await rows.first().locator('td').allTextContents()).slice(0, 3), ['b', '2 s', '66.7%']);
	assert.deepEqual((await rows.nth(1).locator('td').allTextContents()).slice(0, 3), ['a', '1 s', '33.3%']);
	assert.equal(await page.inputValue('#label'), 'pod');
	await page.waitForFunction(() => window.hearth.explorer.graphs.every((g) => g.data));
	assert.deepEqual(await page.evaluate(() => window.hearth.explorer.graphs.map((g) => g.data.numTicks)), [2e9, 1e9]);
	assert.ok(await page.evaluate(() => window.hearth.explorer.graphs[0].rects.some((r) => r.name === 'leak')));
	// The chart's bars: pod b's colour somewhere, pod a's somewhere.
	const colours = await page.evaluate(() => {
		const cv = document.getElementById('label-chart'), d = cv.getContext('2d').getImageData(0, 0, cv.width, cv.height).data;
		const seen = new Set();
		for (let i = 0; i < d.length; i += 4) if (d[i + 3] === 255) seen.add(`${d[i]},${d[i + 1]},${d[i + 2]}`);
		return [...seen];
	});
	assert.ok(colours.includes('78,121,167') && colours.includes('242,142,43'), 'both values in the chart: ' + colours);
	await rows.nth(1).click();
	await paintsAfter(page, 0);
	const p = await params(page);
	assert.equal(p.view, undefined);
	assert.equal(p.query, `${CPU}{pod="a", service_name="shop"}`);
	assert.equal(await page.evaluate(() => window.hearth.flame.data.numTicks), SEC);
});

test('URL round trip, presets, custom range and the back button', async (t) => {
	const q = `${CPU}{service_name="${FX.cpu.service}"}`;
	const href = url({ query: q, from: FX.cpu.from, until: FX.cpu.until, search: 'runtime.kevent' });
	const page = await open(t, href);
	assert.equal(page.url(), href);
	assert.equal(await page.inputValue('#query'), q);
	assert.equal(await page.inputValue('#from'), FX.cpu.from);
	assert.equal(await page.inputValue('#until'), FX.cpu.until);
	assert.equal(await page.inputValue('#search'), 'runtime.kevent');
	assert.equal(await page.inputValue('#service'), FX.cpu.service);
	assert.equal(await page.evaluate(() => window.hearth.flame.data.numTicks), FX.cpu.numTicks);
	assert.match(await text(page, '#match'), /^matches: .* \(\d+\.\d+%\)$/);
	await page.click('#presets button[data-from="now-5m"]');
	await paintsAfter(page, 1);
	assert.equal((await params(page)).from, 'now-5m');
	await page.goBack();
	await paintsAfter(page, 2);
	assert.equal(page.url(), href);
	assert.equal(await page.inputValue('#from'), FX.cpu.from);
	assert.equal(await page.evaluate(() => window.hearth.flame.data.numTicks), FX.cpu.numTicks);
	// Custom range: local date-times → Unix seconds in the URL.
	await page.click('#custom-toggle');
	await page.fill('#custom-from', '2021-04-25T00:00');
	await page.fill('#custom-until', '2021-04-26T00:00');
	await page.click('#custom-apply');
	await paintsAfter(page, 3);
	const p = await params(page);
	const want = (s) => String(Math.floor(new Date(s).getTime() / 1000));
	assert.equal(p.from, await page.evaluate(want, '2021-04-25T00:00'));
	assert.equal(p.until, await page.evaluate(want, '2021-04-26T00:00'));
	assert.equal(await page.evaluate(() => window.hearth.flame.data.numTicks), FX.cpu.numTicks);
	// Drag on the timeline narrows the range (ms in the URL).
	await page.goto(url({ query: SHOP }));
	await drawn(page);
	const tl = await page.locator('#timeline').boundingBox();
	await page.mouse.move(tl.x + tl.width * 0.5, tl.y + 40);
	await page.mouse.down();
	await page.mouse.move(tl.x + tl.width - 2, tl.y + 40, { steps: 4 });
	await page.mouse.up();
	await page.waitForFunction(() => /^\d{13}$/.test(new URLSearchParams(location.search).get('from') || ''));
	const d = await params(page);
	assert.ok(Number(d.until) - Number(d.from) < 3600e3 / 2 + 120e3, `narrowed to ${d.from}..${d.until}`);
});

test('selector autocomplete: types, label names, values', async (t) => {
	const page = await open(t, url({ query: SHOP }));
	await page.fill('#query', '');
	await page.type('#query', 'process_cpu');
	await page.locator('#query-ac').getByText(CPU, { exact: true }).click();
	assert.equal(await page.inputValue('#query'), `${CPU}{}`);
	await page.keyboard.type('po');
	await page.locator('#query-ac').getByText('pod', { exact: true }).click();
	assert.equal(await page.inputValue('#query'), `${CPU}{pod="}`);
	await page.waitForFunction(() => document.querySelectorAll('#query-ac li').length === 2);
	assert.deepEqual(await page.locator('#query-ac li').allTextContents(), ['a', 'b']);
	await page.keyboard.press('ArrowDown');
	await page.keyboard.press('Enter');
	assert.equal(await page.inputValue('#query'), `${CPU}{pod="b"}`);
	assert.equal(await page.isHidden('#query-ac'), true);
	await page.keyboard.press('Enter'); // the list is closed: Enter applies
	await paintsAfter(page, 1);
	assert.equal((await params(page)).query, `${CPU}{pod="b"}`);
	assert.equal(await page.evaluate(() => window.hearth.flame.data.numTicks), 2 * SEC);
});

async function save(page, button) {
	const [dl] = await Promise.all([page.waitForEvent('download'), page.click(button)]);
	return { name: dl.suggestedFilename(), bytes: fs.readFileSync(await dl.path()) };
}

test('exports: pprof, flamebearer JSON, folded text, PNG', async (t) => {
	const page = await open(t, url({ query: SHOP }));
	const pprof = await save(page, '#export-pprof');
	assert.equal(pprof.name, 'shop.pb.gz');
	assert.deepEqual([...pprof.bytes.subarray(0, 2)], [0x1f, 0x8b]);
	const prof = parseProfile(await gunzipIfNeeded(new Uint8Array(pprof.bytes)));
	const g = profileToGraph(prof, defaultTypeIndex(prof));
	assert.equal(g.numTicks, 3 * SEC);
	assert.ok(g.names.includes('alloc'));
	const json = JSON.parse((await save(page, '#export-json')).bytes.toString());
	assert.equal(json.flamebearer.numTicks, 3 * SEC);
	assert.equal(json.metadata.format, 'single');
	const folded = await save(page, '#export-folded');
	assert.equal(folded.name, 'shop-single.folded.txt');
	const lines = folded.bytes.toString().trim().split('\n').sort();
	assert.deepEqual(lines, ['gc 200000000', 'main;idle 200000000', 'main;leak;alloc 1000000000',
		'main;work 400000000', 'main;work;compute 1200000000']);
	const png = await save(page, '#export-png');
	assert.deepEqual([...png.bytes.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
	const width = png.bytes.readUInt32BE(16);
	assert.equal(width, await page.evaluate(() => window.hearth.flame.canvas.width));
	fs.writeFileSync(path.join(SHOTS, 'export.png'), png.bytes);
	// The diff exports its JSON answer; pprof and folded are single-profile only.
	await page.goto(url(diffParams('diff')));
	await page.waitForFunction(() => window.hearth.flame.data && window.hearth.flame.data.format === 'double');
	assert.equal(await page.isDisabled('#export-pprof'), true);
	const dj = JSON.parse((await save(page, '#export-json')).bytes.toString());
	assert.equal(dj.metadata.format, 'double');
	assert.equal(dj.rightTicks, 2 * SEC);
});

test('local pprof viewed without ingesting it', async (t) => {
	const page = await open(t, url({ view: 'local' }));
	const sent = [];
	page.on('request', (r) => sent.push(r.url()));
	await page.setInputFiles('#upload', FX.cpu.file);
	await page.waitForFunction(() => window.hearth.flame.data && window.hearth.flame.data.numTicks > 0);
	assert.deepEqual(sent, [], 'the file view asks the server nothing');
	assert.equal(await page.evaluate(() => window.hearth.flame.data.numTicks), FX.cpu.numTicks);
	assert.equal(await page.inputValue('#local-type'), 'cpu (nanoseconds)');
	assert.match(await text(page, '#range-info'), /^cpu\.pb\.gz: total 470 ms/);
	assert.equal(await page.locator('#top tbody tr td').first().textContent(), FX.cpu.topSelf);
	// Other sample type, then the exports of the local view.
	await page.selectOption('#local-type', { label: 'samples (count)' });
	assert.equal(await page.evaluate(() => window.hearth.flame.data.numTicks), FX.cpu.numTicks / 1e7);
	await page.selectOption('#local-type', { label: 'cpu (nanoseconds)' });
	const folded = (await save(page, '#export-folded')).bytes.toString().trim().split('\n');
	assert.equal(folded.reduce((a, l) => a + Number(l.slice(l.lastIndexOf(' ') + 1)), 0), FX.cpu.numTicks);
	const orig = await save(page, '#export-pprof');
	assert.deepEqual(orig.bytes, fs.readFileSync(FX.cpu.file));
	const json = JSON.parse((await save(page, '#export-json')).bytes.toString());
	assert.equal(json.flamebearer.numTicks, FX.cpu.numTicks);
	assert.deepEqual(sent, []);
	// A file that is not a pprof: a message, no crash.
	const bad = path.join(SHOTS, 'not-a-profile.txt');
	fs.writeFileSync(bad, 'hello, not protobuf\n');
	await page.setInputFiles('#upload', bad);
	await page.waitForSelector('#error:not([hidden])');
	assert.match(await text(page, '#error'), /^not-a-profile\.txt: not a pprof profile/);
});

test('tenant field with multi-tenancy on', async (t) => {
	const sent = [];
	const page = await open(t, null, [/status of 401/]);
	page.on('request', (r) => { if (r.url().includes('/pyroscope/')) sent.push(r.headers()['x-scope-orgid'] || ''); });
	await page.goto(process.env.HEARTH_MT_URL + '/');
	await page.waitForSelector('#error:not([hidden])');
	assert.match(await text(page, '#error'), /401 .*X-Scope-OrgID/);
	assert.equal(await page.isVisible('#tenant'), true);
	sent.length = 0;
	await page.fill('#tenant', 'team-a');
	await page.press('#tenant', 'Enter');
	await page.waitForFunction(() => window.hearth.paints.length > 0);
	assert.equal((await params(page)).tenant, 'team-a');
	assert.equal(await page.evaluate(() => window.hearth.flame.data.numTicks), 0.4 * SEC);
	assert.equal(await page.inputValue('#service'), 'teamsvc');
	assert.ok(sent.length >= 4);
	assert.deepEqual([...new Set(sent)], ['team-a']);
	// The link keeps the tenant.
	const again = await open(t, page.url());
	assert.equal(await again.evaluate(() => window.hearth.flame.data.numTicks), 0.4 * SEC);
	// Export pprof goes through Connect with the header too.
	const pp = await save(again, '#export-pprof');
	const prof = parseProfile(await gunzipIfNeeded(new Uint8Array(pp.bytes)));
	assert.equal(profileToGraph(prof, 0).numTicks, 0.4 * SEC);
});

test('first paint of a 100k-node flame graph', async (t) => {
	const page = await open(t, null);
	const href = url({ query: `${CPU}{service_name="big"}`, maxNodes: '262144' });
	// Three cold loads (a new navigation each: modules, pickers, render,
	// decode, table, draw); each one printed, then the median.
	const runs = [];
	for (let i = 0; i < 3; i++) {
		await page.goto(href);
		await page.waitForFunction(() => window.hearth.paints.length > 0, null, { timeout: 60000 });
		const p = await page.evaluate(() => window.hearth.paints[0]);
		assert.ok(p.nodes >= 100000, `${p.nodes} nodes`);
		console.log(`first paint of ${p.nodes} nodes: ${p.at.toFixed(0)} ms after navigation start ` +
			`(render request ${p.fetchMs.toFixed(0)} ms, decode + table + draw ${p.drawMs.toFixed(0)} ms)`);
		runs.push(p.at);
	}
	console.log(`first paint, median of 3: ${runs.sort((a, b) => a - b)[1].toFixed(0)} ms`);
	console.log(`full redraw: ${(await page.evaluate(() => window.hearth.flame.renderMs)).toFixed(1)} ms`);
	await clickFrame(page, (await rects(page)).find((r) => r.name === 'pkg100.Serve'));
	assert.equal(await text(page, '#zoomed'), 'zoomed: pkg100.Serve');
	console.log(`zoomed redraw: ${(await page.evaluate(() => window.hearth.flame.renderMs)).toFixed(1)} ms`);
	await page.screenshot({ path: path.join(SHOTS, 'readme_flame_100k.png') });
});

test('readme screenshot of the flame graph', async (t) => {
	const page = await open(t, url({ query: `${CPU}{service_name="${FX.cpu.service}"}`, from: FX.cpu.from, until: FX.cpu.until }));
	await page.screenshot({ path: path.join(SHOTS, 'readme_flame.png') });
});
