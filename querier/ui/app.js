// hearth UI entry point: state ⇄ URL, pickers, and the views (flame
// graph, sandwich, diff, side-by-side comparison, label explorer, local
// file). Every view is a function of the URL's query string, so a link
// from an alert (?query=…&from=…&until=…) opens exactly that view and the
// back button restores the previous one (pushState on each change,
// popstate reloads). Answers are cached by request, so switching between
// views of the same query (flame graph ⇄ sandwich, diff ⇄ comparison)
// does not ask the server again. A local pprof file lives only in this
// page's memory and is never sent anywhere.

import { decodeLevels, topTable } from './decode.js';
import { FlameGraph } from './flame.js';
import { Timeline } from './timeline.js';
import { TopTable, DiffTable } from './table.js';
import { LabelExplorer } from './labels.js';
import { Autocomplete } from './autocomplete.js';
import { sandwich, sideLevels, diffRows, foldedText, encodeLevels } from './tree.js';
import { parseProfile, sampleTypesOf, defaultTypeIndex, profileToGraph, gunzipIfNeeded, gzip,
	encodeSelectMergeProfile } from './pprof.js';
import { fetchJSON, connectProto, setTenant, TenantNeeded, parseTime, download } from './api.js';
import { formatValue, formatPercent, unitOfType } from './format.js';
import { splitQuery, serviceOf, withService, withType, withMatcher } from './query.js';

const $ = (id) => document.getElementById(id);
const DIFF_KEYS = ['leftQuery', 'leftFrom', 'leftUntil', 'rightQuery', 'rightFrom', 'rightUntil'];
const KEYS = ['view', 'tenant', 'query', 'from', 'until', 'search', 'fn', 'invert', 'color', 'maxNodes',
	'label', ...DIFF_KEYS];
const DEFAULTS = { view: 'single', from: 'now-1h', until: 'now', color: 'package', maxNodes: '8192',
	leftFrom: 'now-2h', leftUntil: 'now-1h', rightFrom: 'now-1h', rightUntil: 'now' };
const VIEWS = ['single', 'sandwich', 'diff', 'compare', 'labels', 'local'];

let state = readURL();
let loadSeq = 0;
let tenantNeeded = false;
const tip = $('tooltip');
const flame = new FlameGraph($('flame'), tip);
const callers = new FlameGraph($('callers'), tip);
const callees = new FlameGraph($('callees'), tip);
const compareL = new FlameGraph($('compare-left'), tip);
const compareR = new FlameGraph($('compare-right'), tip);
const timeline = new Timeline($('timeline'));
const table = new TopTable($('top').tBodies[0], $('top').querySelectorAll('th'), $('filter'));
const diffTable = new DiffTable($('regressions').tBodies[0]);
const explorer = new LabelExplorer($('label-chart'), $('label-values').tBodies[0], tip);
callers.inverted = true; // callers above the function
const cache = new Map(); // request key → answer (the last few)
const pickers = { key: '', types: [], names: [], values: new Map() };
let shown = null; // what the exports export: {kind, response, graph, name}
let local = null; // {name, bytes, profile, types, ti}

// Handle for the browser tests and the curious (devtools): the graphs
// and the timings of each drawn render.
window.hearth = { flame, callers, callees, compareL, compareR, table, diffTable, explorer, paints: [],
	state: () => ({ ...state }) };

function readURL() {
	const p = new URLSearchParams(location.search);
	const s = {};
	for (const k of KEYS) s[k] = p.get(k) ?? DEFAULTS[k] ?? '';
	if (!VIEWS.includes(s.view)) s.view = 'single';
	return s;
}

function urlOf(s) {
	const p = new URLSearchParams();
	for (const k of KEYS) {
		if (s[k] === '' || s[k] === DEFAULTS[k]) continue;
		if (DIFF_KEYS.includes(k) && s.view !== 'diff' && s.view !== 'compare') continue;
		if (k === 'label' && s.view !== 'labels') continue;
		p.set(k, s[k]);
	}
	const q = p.toString();
	return q === '' ? location.pathname : '?' + q;
}

// Change the state; a new history entry unless replace (defaults filled
// in on first load, a highlight, typing a search: no step to go back
// through).
function go(change, replace) {
	state = { ...state, ...change };
	const url = urlOf(state);
	if (url !== location.pathname + location.search) {
		if (replace) history.replaceState(null, '', url);
		else history.pushState(null, '', url);
	}
	load();
}

function setURL() {
	history.replaceState(null, '', urlOf(state));
}

window.addEventListener('popstate', () => {
	state = readURL();
	load();
});

async function cached(key, get) {
	if (cache.has(key)) return cache.get(key);
	const r = await get();
	cache.set(key, r);
	if (cache.size > 8) cache.delete(cache.keys().next().value);
	return r;
}

function showError(e) {
	$('error').hidden = e === null;
	$('error').textContent = e === null ? '' : String(e.message || e);
}

function fillSelect(sel, values, current, emptyLabel) {
	const opts = [];
	if (emptyLabel !== undefined) opts.push(new Option(emptyLabel, ''));
	for (const v of values) opts.push(new Option(v, v));
	if (current !== '' && !values.includes(current)) opts.push(new Option(current, current));
	sel.replaceChildren(...opts);
	sel.value = current;
}

async function loadPickers() {
	const range = { from: state.from, until: state.until };
	const key = JSON.stringify([state.tenant, state.from, state.until, splitQuery(state.query).type]);
	const types = await fetchJSON('/pyroscope/label-values', { label: '__name__', ...range }) || [];
	let { type } = splitQuery(state.query);
	// Only a page opened without a query gets a service picked for it;
	// "(all)" chosen later must stay all.
	const fresh = type === '';
	if (fresh && types.length > 0) {
		type = types.find((t) => t.startsWith('process_cpu:')) || types[0];
		state.query = withType(state.query, type);
	}
	fillSelect($('type'), types, type);
	const services = await fetchJSON('/pyroscope/label-values', {
		label: 'service_name', ...range, query: type ? `${type}{}` : '' }) || [];
	let svc = serviceOf(state.query);
	if (fresh && svc === '' && services.length > 0 && splitQuery(state.query).matchers === '') {
		svc = services[0];
		state.query = withService(state.query, svc);
	}
	fillSelect($('service'), services, svc, '(all)');
	const names = await fetchJSON('/pyroscope/label-names', { ...range, query: type ? `${type}{}` : '' }) || [];
	if (pickers.key !== key) pickers.values = new Map();
	Object.assign(pickers, { key, types, names: names.filter((n) => !n.startsWith('__')) });
}

function syncInputs() {
	for (const el of document.querySelectorAll('[data-views]'))
		el.hidden = !el.dataset.views.split(' ').includes(state.view);
	for (const b of $('views').querySelectorAll('button'))
		b.classList.toggle('active', b.dataset.view === state.view);
	$('tenant-box').hidden = !tenantNeeded && state.tenant === '';
	$('tenant').value = state.tenant;
	$('query').value = state.query;
	$('from').value = state.from;
	$('until').value = state.until;
	$('search').value = state.search;
	$('invert').checked = state.invert === '1';
	$('color').value = state.color;
	$('max-nodes').value = state.maxNodes;
	if ($('max-nodes').value !== state.maxNodes)
		$('max-nodes').append(new Option(state.maxNodes, state.maxNodes, true, true));
	for (const b of $('presets').querySelectorAll('button[data-from]'))
		b.classList.toggle('active', b.dataset.from === state.from && state.until === 'now');
	$('left-query').value = state.leftQuery || state.query;
	$('right-query').value = state.rightQuery || state.query;
	$('left-from').value = state.leftFrom;
	$('left-until').value = state.leftUntil;
	$('right-from').value = state.rightFrom;
	$('right-until').value = state.rightUntil;
	$('to-sandwich').disabled = state.fn === '';
	$('to-sandwich').textContent = state.fn === '' ? 'Sandwich' : `Sandwich: ${state.fn}`;
	for (const g of [flame, compareL, compareR]) {
		g.inverted = state.invert === '1';
		g.colorMode = state.color;
		g.colorCache = new Map();
	}
	for (const g of [callers, callees]) g.colorMode = state.color;
	$('zoomed').textContent = '';
	const can = {
		pprof: ['single', 'sandwich', 'local'], json: ['single', 'sandwich', 'diff', 'compare', 'local'],
		folded: ['single', 'sandwich', 'local'], png: ['single', 'sandwich', 'diff', 'compare', 'local'],
	};
	for (const [k, views] of Object.entries(can)) $('export-' + k).disabled = !views.includes(state.view);
}

function unitsFor(query, meta) {
	return unitOfType(splitQuery(query).type) || meta.units;
}

async function load() {
	const seq = ++loadSeq;
	setTenant(state.tenant);
	syncInputs();
	showError(null);
	shown = null;
	try {
		if (state.view === 'local') {
			showLocal();
			return;
		}
		await loadPickers();
		if (seq !== loadSeq) return;
		if (state.query !== $('query').value) {
			setURL();
			syncInputs();
		}
		if (splitQuery(state.query).type === '') {
			for (const g of [flame, compareL, compareR, callers, callees]) g.setData(null);
			$('range-info').textContent = 'No profiles yet: nothing has been ingested in this range.';
			return;
		}
		const views = { single: loadSingle, sandwich: loadSingle, diff: loadDiff, compare: loadDiff, labels: loadLabels };
		await views[state.view](seq);
	} catch (e) {
		if (seq !== loadSeq) return;
		if (e instanceof TenantNeeded) {
			tenantNeeded = true;
			$('tenant-box').hidden = false;
			$('tenant').focus();
		}
		showError(e);
	}
}

function renderParams() {
	return { query: state.query, from: state.from, until: state.until, format: 'json',
		maxNodes: state.maxNodes };
}

async function loadSingle(seq) {
	const t0 = performance.now();
	const params = renderParams();
	const r = await cached(JSON.stringify(['render', state.tenant, params]),
		() => fetchJSON('/pyroscope/render', params));
	if (seq !== loadSeq) return;
	const t1 = performance.now();
	const fb = r.flamebearer;
	const units = unitsFor(state.query, r.metadata);
	const levels = decodeLevels(fb.levels, 'single');
	const graph = { names: fb.names, levels, numTicks: fb.numTicks, format: 'single', units };
	shown = { kind: 'single', response: r, graph, name: serviceOf(state.query) || 'profile' };
	table.set(topTable(levels, fb.names), fb.numTicks, units, state.fn);
	timeline.set(r.timeline, units);
	if (state.view === 'single') {
		flame.highlight = state.fn;
		flame.search = state.search;
		flame.setData(graph);
	} else showSandwich(graph);
	const t2 = performance.now();
	const tl = r.timeline;
	let range = '';
	if (tl && tl.samples.length > 0) {
		const a = new Date(tl.startTime * 1000), b = new Date((tl.startTime + tl.samples.length * tl.durationDelta) * 1000);
		range = ` · ${a.toLocaleString()} → ${b.toLocaleString()}`;
	}
	const nodes = countNodes(levels);
	$('range-info').textContent = `total ${formatValue(fb.numTicks, units)} · ${nodes} nodes${range} · ${Math.round(t2 - t0)} ms`;
	updateMatch();
	requestAnimationFrame(() => window.hearth.paints.push({ at: performance.now(), fetchMs: t1 - t0,
		drawMs: t2 - t1, nodes, view: state.view }));
}

function showSandwich(graph) {
	const fn = graph.names.indexOf(state.fn);
	if (state.fn === '' || fn < 0) {
		$('sandwich-title').textContent = state.fn === '' ? 'Pick a function in the table' :
			`${state.fn} is not in this profile`;
		callers.setData(null);
		callees.setData(null);
		return;
	}
	const s = sandwich(graph.levels, graph.names, fn);
	$('sandwich-title').textContent = `${state.fn} · ${formatValue(s.total, graph.units)} (${formatPercent(s.total, graph.numTicks)})`;
	const part = (levels) => ({ names: graph.names, levels, numTicks: s.total, format: 'single', units: graph.units });
	callers.setData(part(s.callers));
	callees.setData(part(s.callees));
	shown.sandwich = s;
}

async function loadDiff(seq) {
	const params = {
		leftQuery: state.leftQuery || state.query, leftFrom: state.leftFrom, leftUntil: state.leftUntil,
		rightQuery: state.rightQuery || state.query, rightFrom: state.rightFrom, rightUntil: state.rightUntil,
		maxNodes: state.maxNodes,
	};
	const r = await cached(JSON.stringify(['diff', state.tenant, params]),
		() => fetchJSON('/pyroscope/render-diff', params));
	if (seq !== loadSeq) return;
	const fb = r.flamebearer;
	const units = unitsFor(params.leftQuery, r.metadata);
	const levels = decodeLevels(fb.levels, 'double');
	const leftTicks = r.leftTicks || 0, rightTicks = r.rightTicks || 0;
	const graph = { names: fb.names, levels, numTicks: fb.numTicks, format: 'double', leftTicks, rightTicks, units };
	shown = { kind: 'diff', response: r, graph, name: 'diff' };
	if (state.view === 'diff') {
		flame.highlight = state.fn;
		flame.search = state.search;
		flame.setData(graph);
		diffTable.set(diffRows(levels, fb.names, leftTicks, rightTicks), leftTicks, rightTicks, units);
	} else {
		const side = (s, ticks) => ({ names: fb.names, levels: sideLevels(levels, s), numTicks: ticks, format: 'single', units });
		for (const [g, s, t] of [[compareL, 'L', leftTicks], [compareR, 'R', rightTicks]]) {
			g.highlight = state.fn;
			g.search = state.search;
			g.setData(side(s, t));
		}
		$('compare-left-title').textContent = `Baseline · ${formatValue(leftTicks, units)}`;
		$('compare-right-title').textContent = `Comparison · ${formatValue(rightTicks, units)}`;
	}
	$('range-info').textContent = `baseline ${formatValue(leftTicks, units)} · comparison ${formatValue(rightTicks, units)} · ${countNodes(levels)} nodes`;
	updateMatch();
}

async function loadLabels(seq) {
	const names = pickers.names;
	let label = state.label;
	if (label === '' || !names.includes(label)) {
		label = ['version', 'pod', 'instance', 'region'].find((n) => names.includes(n)) ||
			names.find((n) => n !== 'service_name') || names[0] || '';
		state.label = label;
		setURL();
	}
	fillSelect($('label'), names, label);
	if (label === '') {
		$('range-info').textContent = 'No labels in this range.';
		return;
	}
	const params = { ...renderParams(), groupBy: label, maxNodes: '1' };
	const r = await cached(JSON.stringify(['labels', state.tenant, params]),
		() => fetchJSON('/pyroscope/render', params));
	if (seq !== loadSeq) return;
	const units = unitsFor(state.query, r.metadata);
	explorer.set(r, units, (value) => {
		const p = { ...renderParams(), query: withMatcher(state.query, label, value), maxNodes: '512' };
		return cached(JSON.stringify(['render', state.tenant, p]), () => fetchJSON('/pyroscope/render', p));
	});
	const n = explorer.shares.all.length;
	$('range-info').textContent = `${label}: ${n} value${n === 1 ? '' : 's'} · total ${formatValue(explorer.shares.sum, units)}`;
}

// The local file's view (nothing is fetched).
function showLocal() {
	if (local === null) {
		flame.setData(null);
		table.set([], 0, '');
		$('local-type').replaceChildren();
		$('range-info').textContent = 'Choose a pprof file (gzip or not) to view it here without ingesting it.';
		return;
	}
	fillSelect($('local-type'), local.types.map((t) => `${t.type} (${t.unit})`), '');
	$('local-type').selectedIndex = local.ti;
	const g = profileToGraph(local.profile, local.ti);
	const graph = { ...g, format: 'single' };
	shown = { kind: 'local', graph, name: local.name.replace(/\.(pb|pprof)?(\.gz)?$/, '') || 'profile' };
	table.set(topTable(g.levels, g.names), g.numTicks, g.units, state.fn);
	flame.highlight = state.fn;
	flame.search = state.search;
	flame.setData(graph);
	const t = local.profile.timeNanos ? ' · ' + new Date(local.profile.timeNanos / 1e6).toLocaleString() : '';
	$('range-info').textContent = `${local.name}: total ${formatValue(g.numTicks, g.units)} · ${countNodes(g.levels)} nodes${t}`;
	updateMatch();
}

async function openLocal(file) {
	try {
		const raw = new Uint8Array(await file.arrayBuffer());
		const profile = parseProfile(await gunzipIfNeeded(raw));
		local = { name: file.name, bytes: raw, profile, types: sampleTypesOf(profile), ti: defaultTypeIndex(profile) };
		// pprof's default type can be empty (a .NET profile's lock time):
		// then the first type with samples.
		if (profileToGraph(profile, local.ti).numTicks === 0) {
			const ti = local.types.findIndex((t, j) => profileToGraph(profile, j).numTicks > 0);
			if (ti >= 0) local.ti = ti;
		}
		go({ view: 'local', fn: '' });
	} catch (e) {
		showError(new Error(`${file.name}: ${e.message || e}`));
	}
}

function countNodes(levels) {
	let n = 0;
	for (const lv of levels) n += lv.n;
	return n;
}

function mainGraph() {
	return state.view === 'compare' ? compareR : state.view === 'sandwich' ? callees : flame;
}

function updateMatch() {
	const g = mainGraph();
	const m = g.data ? g.matchTotal() : null;
	const d = g.data, u = d ? d.units : '';
	$('match').textContent = m === null ? '' : d.format === 'double' ?
		`matches: baseline ${formatValue(m.sumL, u)} (${formatPercent(m.sumL, d.leftTicks)}) · ` +
		`comparison ${formatValue(m.sumR, u)} (${formatPercent(m.sumR, d.rightTicks)})` :
		`matches: ${formatValue(m.sum, u)} (${formatPercent(m.sum, d.numTicks)})`;
}

// One PNG of what the view shows: the graph, or the two graphs of the
// sandwich (stacked) and of the comparison (side by side).
function viewCanvas() {
	const pair = state.view === 'sandwich' ? [callers.canvas, callees.canvas, false] :
		state.view === 'compare' ? [compareL.canvas, compareR.canvas, true] : null;
	if (pair === null) return flame.canvas;
	const [a, b, across] = pair;
	const c = document.createElement('canvas');
	c.width = across ? a.width + b.width : Math.max(a.width, b.width);
	c.height = across ? Math.max(a.height, b.height) : a.height + b.height;
	const ctx = c.getContext('2d');
	ctx.fillStyle = '#fff';
	ctx.fillRect(0, 0, c.width, c.height);
	ctx.drawImage(a, 0, 0);
	ctx.drawImage(b, across ? a.width : 0, across ? 0 : a.height);
	return c;
}

async function exportAs(kind) {
	try {
		if (shown === null) throw new Error('nothing to export: no profile is shown');
		const base = `${shown.name}-${state.view}`;
		if (kind === 'png') {
			const blob = await new Promise((res) => viewCanvas().toBlob(res, 'image/png'));
			download(blob, base + '.png');
		} else if (kind === 'folded') {
			download(foldedText(shown.graph.levels, shown.graph.names), base + '.folded.txt', 'text/plain');
		} else if (kind === 'json') {
			const g = shown.graph;
			const body = shown.response || { version: 1, flamebearer: { names: g.names, levels: encodeLevels(g.levels),
				numTicks: g.numTicks, maxSelf: Math.max(0, ...g.levels.map((lv) => Math.max(0, ...lv.self))) },
			metadata: { format: 'single', spyName: '', sampleRate: 100, units: g.units, name: local.types[local.ti].type } };
			download(JSON.stringify(body), base + '.json', 'application/json');
		} else if (kind === 'pprof') {
			if (shown.kind === 'local') {
				download(local.bytes, local.name, 'application/octet-stream');
				return;
			}
			const now = Date.now();
			const start = parseTime(state.from, now), end = parseTime(state.until, now);
			if (Number.isNaN(start) || Number.isNaN(end)) throw new Error(`cannot read the range ${state.from} … ${state.until}`);
			const { type, matchers } = splitQuery(state.query);
			const bytes = await connectProto('SelectMergeProfile',
				encodeSelectMergeProfile(type, `{${matchers}}`, start, end));
			download(await gzip(bytes), shown.name + '.pb.gz', 'application/gzip');
		}
	} catch (e) {
		showError(e);
	}
}

function toLocalInput(ms) {
	const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60000);
	return d.toISOString().slice(0, 19);
}

// Controls.
$('controls').addEventListener('submit', (e) => {
	e.preventDefault();
	go({ query: $('query').value.trim(), from: $('from').value.trim() || 'now-1h',
		until: $('until').value.trim() || 'now' });
});
$('diff-controls').addEventListener('submit', (e) => {
	e.preventDefault();
	go({ leftQuery: $('left-query').value.trim(), leftFrom: $('left-from').value.trim(),
		leftUntil: $('left-until').value.trim(), rightQuery: $('right-query').value.trim(),
		rightFrom: $('right-from').value.trim(), rightUntil: $('right-until').value.trim() });
});
for (const f of ['local-controls', 'labels-controls']) $(f).addEventListener('submit', (e) => e.preventDefault());
$('type').addEventListener('change', () => go({ query: withType(state.query, $('type').value) }));
$('service').addEventListener('change', () => go({ query: withService(state.query, $('service').value) }));
for (const b of $('presets').querySelectorAll('button[data-from]'))
	b.addEventListener('click', () => go({ from: b.dataset.from, until: 'now' }));
$('custom-toggle').addEventListener('click', () => {
	const now = Date.now();
	const f = parseTime(state.from, now), u = parseTime(state.until, now);
	if (!Number.isNaN(f)) $('custom-from').value = toLocalInput(f);
	if (!Number.isNaN(u)) $('custom-until').value = toLocalInput(u);
	$('custom').hidden = !$('custom').hidden;
});
$('custom-apply').addEventListener('click', () => {
	const f = new Date($('custom-from').value).getTime(), u = new Date($('custom-until').value).getTime();
	if (Number.isNaN(f) || Number.isNaN(u) || f >= u) {
		showError(new Error('custom range: pick a start before the end'));
		return;
	}
	$('custom').hidden = true;
	go({ from: String(Math.floor(f / 1000)), until: String(Math.floor(u / 1000)) });
});
for (const b of $('views').querySelectorAll('button'))
	b.addEventListener('click', () => go({ view: b.dataset.view }));
$('tenant').addEventListener('change', () => {
	cache.clear();
	go({ tenant: $('tenant').value.trim() });
});
$('search').addEventListener('input', () => {
	state.search = $('search').value;
	state.fn = '';
	setURL();
	table.selected = '';
	table.render();
	for (const g of [flame, compareL, compareR, callers, callees]) {
		g.highlight = '';
		if (g.data) g.setSearch(state.search);
	}
	updateMatch();
});
$('reset').addEventListener('click', () => mainGraph().reset());
$('invert').addEventListener('change', () => go({ invert: $('invert').checked ? '1' : '' }));
$('color').addEventListener('change', () => go({ color: $('color').value }));
$('max-nodes').addEventListener('change', () => go({ maxNodes: $('max-nodes').value }));
$('label').addEventListener('change', () => go({ label: $('label').value }));
$('to-sandwich').addEventListener('click', () => go({ view: 'sandwich' }));
$('upload').addEventListener('change', () => {
	const f = $('upload').files[0];
	if (f) openLocal(f);
});
$('local-type').addEventListener('change', () => {
	if (local === null) return;
	local.ti = $('local-type').selectedIndex;
	showLocal();
});
for (const k of ['pprof', 'json', 'folded', 'png'])
	$('export-' + k).addEventListener('click', () => exportAs(k));

for (const g of [flame, callers, callees, compareL, compareR]) {
	g.onzoom = (name) => { $('zoomed').textContent = name === null ? '' : 'zoomed: ' + name; };
	g.onpick = (name) => {
		if (state.view === 'single' || state.view === 'sandwich') go({ view: 'sandwich', fn: name });
	};
}
// Selecting a function (table row) highlights it in the graph(s); in the
// sandwich view it is the function the sandwich is made of.
function selectFn(name) {
	if (state.view === 'sandwich') {
		go({ fn: name });
		return;
	}
	state.fn = name;
	setURL();
	$('to-sandwich').disabled = name === '';
	$('to-sandwich').textContent = name === '' ? 'Sandwich' : `Sandwich: ${name}`;
	for (const g of [flame, compareL, compareR]) if (g.data) g.setHighlight(name);
	updateMatch();
}
table.onselect = selectFn;
diffTable.onselect = selectFn;
explorer.onpick = (value) => go({ view: 'single', query: withMatcher(state.query, state.label, value) });
timeline.onselect = (f, u) => go({ from: String(f), until: String(u) });

new Autocomplete($('query'), $('query-ac'), {
	types: async () => pickers.types,
	names: async () => pickers.names,
	values: async (label) => {
		const type = splitQuery($('query').value).type || splitQuery(state.query).type;
		const key = label + '\n' + type;
		if (!pickers.values.has(key)) {
			pickers.values.set(key, fetchJSON('/pyroscope/label-values', { label, from: state.from,
				until: state.until, query: type ? `${type}{}` : '' }).then((v) => v || []));
		}
		return pickers.values.get(key);
	},
});

// The server's version beside the name, its whole build in the tooltip
// (GET /api/v1/status/buildinfo): which hearth an on-call engineer is
// looking at. A server without it (an older hearth) shows nothing.
fetch('/api/v1/status/buildinfo').then((r) => (r.ok ? r.json() : null)).then((b) => {
	const d = b && b.data;
	if (!d || !d.version) return;
	$('version').textContent = d.version;
	$('version').title = `hearth ${d.version} (revision ${d.revision}, branch ${d.branch}, ` +
		`${d.buildDate}, ${d.goVersion})`;
}).catch(() => {});

load();
