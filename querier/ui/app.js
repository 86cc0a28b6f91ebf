// hearth UI entry point: state ⇄ URL, pickers, and the single and diff
// views. Every view is a function of the URL's query string, so a link
// from an alert (?query=…&from=…&until=…) opens exactly that view and the
// back button restores the previous one (pushState on each change,
// popstate reloads).

import { decodeLevels, topTable } from './decode.js';
import { FlameGraph } from './flame.js';
import { Timeline } from './timeline.js';
import { TopTable } from './table.js';
import { formatValue, formatPercent, unitOfType } from './format.js';

const $ = (id) => document.getElementById(id);
const KEYS = ['view', 'query', 'from', 'until', 'search',
	'leftQuery', 'leftFrom', 'leftUntil', 'rightQuery', 'rightFrom', 'rightUntil'];
const DEFAULTS = { view: 'single', from: 'now-1h', until: 'now', leftFrom: 'now-2h',
	leftUntil: 'now-1h', rightFrom: 'now-1h', rightUntil: 'now' };

let state = readURL();
let loadSeq = 0;
const flame = new FlameGraph($('flame'), $('tooltip'));
const timeline = new Timeline($('timeline'));
const table = new TopTable($('top').tBodies[0], $('top').querySelectorAll('th'), $('filter'));

function readURL() {
	const p = new URLSearchParams(location.search);
	const s = {};
	for (const k of KEYS) s[k] = p.get(k) ?? DEFAULTS[k] ?? '';
	return s;
}

function urlOf(s) {
	const p = new URLSearchParams();
	for (const k of KEYS) {
		if (s[k] === '' || s[k] === DEFAULTS[k]) continue;
		if (s.view !== 'diff' && (k.startsWith('left') || k.startsWith('right'))) continue;
		p.set(k, s[k]);
	}
	const q = p.toString();
	return q === '' ? location.pathname : '?' + q;
}

// Change the state; a new history entry unless replace (the defaults
// filled in on first load must not add a step to go back through).
function go(change, replace) {
	state = { ...state, ...change };
	const url = urlOf(state);
	if (url !== location.pathname + location.search) {
		if (replace) history.replaceState(null, '', url);
		else history.pushState(null, '', url);
	}
	load();
}

window.addEventListener('popstate', () => {
	state = readURL();
	load();
});

// Selector parts: profile type ID and the matchers between braces.
export function splitQuery(q) {
	const b = q.indexOf('{');
	if (b < 0) return { type: q.trim(), matchers: '' };
	const e = q.lastIndexOf('}');
	return { type: q.slice(0, b).trim(), matchers: q.slice(b + 1, e < 0 ? q.length : e).trim() };
}

function serviceOf(q) {
	const m = /service_name\s*=\s*"((?:[^"\\]|\\.)*)"/.exec(splitQuery(q).matchers);
	return m ? m[1] : '';
}

function withService(q, svc) {
	const { type, matchers } = splitQuery(q);
	const esc = svc.replace(/\\/g, '\\\\').replace(/"/g, '\\"');
	let ms = matchers.replace(/,?\s*service_name\s*=\s*"(?:[^"\\]|\\.)*"\s*/, '').replace(/^\s*,\s*/, '');
	if (svc !== '') ms = `service_name="${esc}"` + (ms ? ', ' + ms : '');
	return `${type}{${ms}}`;
}

function withType(q, type) {
	return `${type}{${splitQuery(q).matchers}}`;
}

async function fetchJSON(path, params) {
	const url = path + '?' + new URLSearchParams(params).toString();
	const r = await fetch(url, { headers: { Accept: 'application/json' } });
	const text = await r.text();
	if (!r.ok) {
		let msg = text;
		try { msg = JSON.parse(text).message || text; } catch (e) { /* not JSON */ }
		throw new Error(`${path}: ${r.status} ${msg}`);
	}
	return JSON.parse(text);
}

function showError(e) {
	$('error').hidden = e === null;
	$('error').textContent = e === null ? '' : String(e.message || e);
}

function fillSelect(sel, values, current, emptyLabel) {
	const opts = [];
	if (emptyLabel !== undefined) {
		const o = new Option(emptyLabel, '');
		opts.push(o);
	}
	for (const v of values) opts.push(new Option(v, v));
	if (current !== '' && !values.includes(current)) opts.push(new Option(current, current));
	sel.replaceChildren(...opts);
	sel.value = current;
}

async function loadPickers() {
	const types = (await fetchJSON('/pyroscope/label-values',
		{ label: '__name__', from: state.from, until: state.until })) || [];
	let { type } = splitQuery(state.query);
	// Only a page opened without a query gets a service picked for it;
	// "(all)" chosen later must stay all.
	const fresh = type === '';
	if (fresh && types.length > 0) {
		type = types.find((t) => t.startsWith('process_cpu:')) || types[0];
		state.query = withType(state.query, type);
	}
	fillSelect($('type'), types, type);
	const services = (await fetchJSON('/pyroscope/label-values', {
		label: 'service_name', from: state.from, until: state.until,
		query: type ? `${type}{}` : '',
	})) || [];
	let svc = serviceOf(state.query);
	if (fresh && svc === '' && services.length > 0 && splitQuery(state.query).matchers === '') {
		svc = services[0];
		state.query = withService(state.query, svc);
	}
	fillSelect($('service'), services, svc, '(all)');
	const names = (await fetchJSON('/pyroscope/label-names', { from: state.from, until: state.until })) || [];
	$('label-names').replaceChildren(...names.filter((n) => !n.startsWith('__'))
		.map((n) => new Option(`${type}{${n}=""}`)));
}

function syncInputs() {
	document.body.classList.toggle('diff', state.view === 'diff');
	for (const b of $('views').querySelectorAll('button'))
		b.classList.toggle('active', b.dataset.view === state.view);
	$('diff-controls').hidden = state.view !== 'diff';
	$('legend').hidden = state.view !== 'diff';
	$('query').value = state.query;
	$('from').value = state.from;
	$('until').value = state.until;
	$('search').value = state.search;
	for (const b of $('presets').querySelectorAll('button'))
		b.classList.toggle('active', b.dataset.from === state.from && state.until === 'now');
	$('left-query').value = state.leftQuery || state.query;
	$('right-query').value = state.rightQuery || state.query;
	$('left-from').value = state.leftFrom;
	$('left-until').value = state.leftUntil;
	$('right-from').value = state.rightFrom;
	$('right-until').value = state.rightUntil;
}

function unitsFor(query, meta) {
	return unitOfType(splitQuery(query).type) || meta.units;
}

async function load() {
	const seq = ++loadSeq;
	syncInputs();
	showError(null);
	try {
		await loadPickers();
		if (seq !== loadSeq) return;
		if (state.query !== $('query').value) {
			history.replaceState(null, '', urlOf(state));
			syncInputs();
		}
		if (splitQuery(state.query).type === '') {
			flame.setData(null);
			$('range-info').textContent = 'No profiles yet: nothing has been ingested in this range.';
			return;
		}
		if (state.view === 'diff') await loadDiff(seq);
		else await loadSingle(seq);
	} catch (e) {
		if (seq === loadSeq) showError(e);
	}
}

async function loadSingle(seq) {
	const t0 = performance.now();
	const r = await fetchJSON('/pyroscope/render',
		{ query: state.query, from: state.from, until: state.until, format: 'json' });
	if (seq !== loadSeq) return;
	const fb = r.flamebearer;
	const units = unitsFor(state.query, r.metadata);
	const levels = decodeLevels(fb.levels, 'single');
	flame.setData({ names: fb.names, levels, numTicks: fb.numTicks, format: 'single', units });
	flame.setSearch(state.search);
	table.set(topTable(levels, fb.names), fb.numTicks, units);
	timeline.set(r.timeline, units);
	const tl = r.timeline;
	let range = '';
	if (tl && tl.samples.length > 0) {
		const a = new Date(tl.startTime * 1000), b = new Date((tl.startTime + tl.samples.length * tl.durationDelta) * 1000);
		range = ` · ${a.toLocaleString()} → ${b.toLocaleString()}`;
	}
	$('range-info').textContent = `total ${formatValue(fb.numTicks, units)} · ${countNodes(levels)} nodes${range} · ${Math.round(performance.now() - t0)} ms`;
	updateMatch();
}

async function loadDiff(seq) {
	const lq = state.leftQuery || state.query, rq = state.rightQuery || state.query;
	const r = await fetchJSON('/pyroscope/render-diff', {
		leftQuery: lq, leftFrom: state.leftFrom, leftUntil: state.leftUntil,
		rightQuery: rq, rightFrom: state.rightFrom, rightUntil: state.rightUntil,
	});
	if (seq !== loadSeq) return;
	const fb = r.flamebearer;
	const units = unitsFor(lq, r.metadata);
	const levels = decodeLevels(fb.levels, 'double');
	const leftTicks = r.leftTicks || 0, rightTicks = r.rightTicks || 0;
	flame.setData({ names: fb.names, levels, numTicks: fb.numTicks, format: 'double',
		leftTicks, rightTicks, units });
	flame.setSearch(state.search);
	$('range-info').textContent = `baseline ${formatValue(leftTicks, units)} · comparison ${formatValue(rightTicks, units)} · ${countNodes(levels)} nodes`;
	updateMatch();
}

function countNodes(levels) {
	let n = 0;
	for (const lv of levels) n += lv.n;
	return n;
}

function updateMatch() {
	const m = flame.matchTotal();
	$('match').textContent = m === null ? '' :
		`matches: ${formatValue(m.sum, flame.data.units)} (${formatPercent(m.sum, flame.data.numTicks)})`;
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
$('type').addEventListener('change', () => go({ query: withType(state.query, $('type').value) }));
$('service').addEventListener('change', () => go({ query: withService(state.query, $('service').value) }));
for (const b of $('presets').querySelectorAll('button'))
	b.addEventListener('click', () => go({ from: b.dataset.from, until: 'now' }));
for (const b of $('views').querySelectorAll('button'))
	b.addEventListener('click', () => go({ view: b.dataset.view }));
$('search').addEventListener('input', () => {
	state.search = $('search').value;
	history.replaceState(null, '', urlOf(state));
	flame.setHighlight('');
	table.selected = '';
	table.render();
	flame.setSearch(state.search);
	updateMatch();
});
$('reset').addEventListener('click', () => flame.reset());
flame.onzoom = (name) => { $('zoomed').textContent = name === null ? '' : 'zoomed: ' + name; };
table.onselect = (name) => {
	flame.setHighlight(name);
	updateMatch();
};
timeline.onselect = (f, u) => go({ from: String(f), until: String(u) });

load();
