// Flame graph on a canvas (single and diff).
//
// Data: decoded levels (decode.js): level k holds the nodes at depth k,
// sorted by x. The view is a tick range [x0, x1) (the zoomed node's span)
// mapped onto the canvas width; a level is drawn by binary-searching the
// first node that reaches x0 and walking until x1, skipping nodes under
// 1 px (their children are narrower still), so a 100k-node graph costs
// only what is visible. Ancestors of the zoomed node span the width, faded.
//
// Orientation: icicle (root on top, the default) or flame (root at the
// bottom, `inverted`). Colours: by package (frames of one package or
// namespace share a colour), by function, or, for a diff, by the change.
// After each draw `rects` lists what was drawn ({name, k, i, x, y, w} in
// CSS pixels), which the tooltip and the browser tests read back.

import { nodeAt } from './decode.js';
import { formatValue, formatPercent } from './format.js';

const ROW = 18;
// Distinct, light enough for black text, away from the search magenta.
const PALETTE = ['#f4a261', '#e9c46a', '#8ecae6', '#a7c957', '#f6bd60', '#90be6d', '#84a59d',
	'#f28482', '#ffb4a2', '#bde0fe', '#cdb4db', '#ffd166', '#9bd0b5', '#f7a072', '#b5c99a', '#e5989b'];
const FONT = '12px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace';

// The package/namespace of a function name, which picks its colour:
// "net/http.(*conn).serve" → "net/http", "std::vec::push" → "std::vec".
export function packageOf(name) {
	let s = name;
	const paren = s.indexOf('(');
	if (paren > 0) s = s.slice(0, paren);
	const slash = s.lastIndexOf('/');
	const dot = s.indexOf('.', slash + 1);
	if (dot > 0) return s.slice(0, dot);
	const colons = s.lastIndexOf('::');
	if (colons > 0) return s.slice(0, colons);
	return s;
}

function hash(s) {
	let h = 2166136261;
	for (let i = 0; i < s.length; i++) {
		h ^= s.charCodeAt(i);
		h = Math.imul(h, 16777619);
	}
	return h >>> 0;
}

// Relative change of a diff node's share: +1 = doubled (or new), -1 = gone.
export function diffChange(totalL, totalR, leftTicks, rightTicks) {
	const l = leftTicks ? totalL / leftTicks : 0;
	const r = rightTicks ? totalR / rightTicks : 0;
	if (l === 0) return r > 0 ? Infinity : 0;
	return (r - l) / l;
}

// Red for growth, green for shrinkage, grey for no change; saturates at
// ±100 % (the legend shows the same scale).
export function diffColor(change) {
	const c = Math.max(-1, Math.min(1, change === Infinity ? 1 : change));
	const t = Math.abs(c);
	const base = [200, 200, 200];
	const end = c >= 0 ? [230, 40, 40] : [30, 170, 60];
	const m = base.map((b, i) => Math.round(b + (end[i] - b) * t));
	return `rgb(${m[0]},${m[1]},${m[2]})`;
}

export class FlameGraph {
	// opts: {row: row height in px, labels: false to draw no names (the
	// label explorer's small graphs)}.
	constructor(canvas, tooltip, opts = {}) {
		this.canvas = canvas;
		this.tooltip = tooltip;
		this.ctx = canvas.getContext('2d');
		this.row = opts.row || ROW;
		this.labels = opts.labels !== false;
		this.data = null;
		this.zoom = null; // {k, i}
		this.search = '';
		this.highlight = ''; // exact name from the table
		this.inverted = false;
		this.colorMode = 'package';
		this.rects = [];
		this.onzoom = null;
		this.onpick = null; // called with a name on a frame's double click
		canvas.addEventListener('click', (e) => this.click(e));
		canvas.addEventListener('dblclick', (e) => {
			const n = this.nodeAtEvent(e);
			if (n !== null && n.k > 0 && this.onpick) this.onpick(this.nameOf(n.k, n.i));
		});
		canvas.addEventListener('mousemove', (e) => this.hover(e));
		canvas.addEventListener('mouseleave', () => { this.tooltip.hidden = true; });
		this.resizeObserver = new ResizeObserver(() => { if (this.canvas.isConnected) this.render(); });
		this.resizeObserver.observe(canvas.parentElement);
	}

	// d: {names, levels (decoded), numTicks, format, leftTicks, rightTicks, units}
	setData(d) {
		this.data = d;
		this.zoom = null;
		this.colorCache = new Map();
		this.render();
	}

	setSearch(s) { this.search = s; this.render(); }
	setHighlight(name) { this.highlight = name; this.render(); }
	setInverted(b) { this.inverted = b; this.render(); }
	setColorMode(m) { this.colorMode = m; this.colorCache = new Map(); this.render(); }
	reset() { this.zoom = null; this.render(); if (this.onzoom) this.onzoom(null); }
	nameOf(k, i) { return this.data.names[this.data.levels[k].name[i]]; }

	range() {
		const d = this.data;
		if (this.zoom === null) return [0, d.numTicks, 0];
		const lv = d.levels[this.zoom.k];
		return [lv.x[this.zoom.i], lv.x[this.zoom.i] + lv.total[this.zoom.i], this.zoom.k];
	}

	matches(name) {
		if (this.highlight !== '') return name === this.highlight;
		return this.search !== '' && name.toLowerCase().includes(this.search.toLowerCase());
	}

	color(k, i, name) {
		const d = this.data;
		if (d.format === 'double') {
			const lv = d.levels[k];
			return diffColor(diffChange(lv.totalL[i], lv.totalR[i], d.leftTicks, d.rightTicks));
		}
		let c = this.colorCache.get(name);
		if (c === undefined) {
			c = PALETTE[hash(this.colorMode === 'function' ? name : packageOf(name)) % PALETTE.length];
			this.colorCache.set(name, c);
		}
		return c;
	}

	// Top of level k in CSS pixels.
	yOf(k) {
		const n = this.data ? this.data.levels.length : 1;
		return (this.inverted ? n - 1 - k : k) * this.row;
	}

	render() {
		const t0 = performance.now();
		const d = this.data;
		const cv = this.canvas, ctx = this.ctx, ROWH = this.row;
		const dpr = window.devicePixelRatio || 1;
		const width = cv.parentElement.clientWidth;
		const nLevels = d ? d.levels.length : 0;
		const height = Math.max(ROWH, nLevels * ROWH);
		cv.style.width = width + 'px';
		cv.style.height = height + 'px';
		cv.width = Math.max(1, Math.floor(width * dpr));
		cv.height = Math.floor(height * dpr);
		ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
		ctx.clearRect(0, 0, width, height);
		this.rects = [];
		if (!d || d.numTicks === 0) {
			ctx.fillStyle = '#666';
			ctx.font = FONT;
			ctx.textBaseline = 'middle';
			ctx.fillText('No data in this range.', 8, ROWH / 2);
			return;
		}
		const [x0, x1, zk] = this.range();
		const scale = width / (x1 - x0);
		const minTicks = 1 / scale; // narrower than 1 px: not drawn
		ctx.font = FONT;
		ctx.textBaseline = 'middle';
		const charW = ctx.measureText('m').width;
		const anySearch = this.search !== '' || this.highlight !== '';
		for (let k = 0; k < nLevels; k++) {
			const lv = d.levels[k];
			const y = this.yOf(k);
			let i = firstEndingAfter(lv, x0);
			for (; i < lv.n && lv.x[i] < x1; i++) {
				if (lv.total[i] < minTicks) continue;
				const nx0 = Math.max(lv.x[i], x0), nx1 = Math.min(lv.x[i] + lv.total[i], x1);
				const px = (nx0 - x0) * scale, pw = (nx1 - nx0) * scale;
				if (pw < 1) continue;
				const name = d.names[lv.name[i]];
				const hit = anySearch && this.matches(name);
				ctx.globalAlpha = k < zk ? 0.45 : 1;
				ctx.fillStyle = anySearch && !hit ? '#e4e4e4' : this.color(k, i, name);
				if (hit && d.format !== 'double') ctx.fillStyle = '#d946ef';
				ctx.fillRect(px, y, Math.max(pw - 0.5, 0.5), ROWH - 1);
				if (hit && d.format === 'double') {
					ctx.strokeStyle = '#7c3aed';
					ctx.lineWidth = 2;
					ctx.strokeRect(px + 1, y + 1, pw - 2, ROWH - 3);
				}
				this.rects.push({ name, k, i, x: px, y, w: pw });
				if (this.labels && pw > 3 * charW) {
					const max = Math.floor((pw - 6) / charW);
					const label = name.length > max ? name.slice(0, max - 1) + '…' : name;
					ctx.fillStyle = anySearch && !hit ? '#999' : '#111';
					ctx.fillText(label, px + 3, y + ROWH / 2);
				}
			}
		}
		ctx.globalAlpha = 1;
		this.renderMs = performance.now() - t0; // the last draw's cost, for the tests
	}

	nodeAtEvent(e) {
		const d = this.data;
		if (!d || d.numTicks === 0) return null;
		const r = this.canvas.getBoundingClientRect();
		let k = Math.floor((e.clientY - r.top) / this.row);
		if (this.inverted) k = d.levels.length - 1 - k;
		if (k < 0 || k >= d.levels.length) return null;
		const [x0, x1] = this.range();
		const t = x0 + ((e.clientX - r.left) / r.width) * (x1 - x0);
		const i = nodeAt(d.levels[k], t);
		return i < 0 ? null : { k, i };
	}

	click(e) {
		const n = this.nodeAtEvent(e);
		if (n === null) return;
		if (n.k === 0) {
			this.reset();
			return;
		}
		this.zoom = n;
		this.render();
		if (this.onzoom) this.onzoom(this.nameOf(n.k, n.i));
	}

	hover(e) {
		const n = this.nodeAtEvent(e);
		const tip = this.tooltip;
		if (n === null) {
			tip.hidden = true;
			return;
		}
		tip.replaceChildren(...this.describe(n.k, n.i).map(([a, b]) => {
			const row = document.createElement('div');
			const l = document.createElement('b');
			l.textContent = a;
			row.append(l, document.createTextNode(' ' + b));
			return row;
		}));
		tip.hidden = false;
		tip.dataset.name = this.nameOf(n.k, n.i);
		const pad = 14;
		let left = e.clientX + pad, top = e.clientY + pad;
		const w = tip.offsetWidth, h = tip.offsetHeight;
		if (left + w > window.innerWidth) left = e.clientX - w - pad;
		if (top + h > window.innerHeight) top = e.clientY - h - pad;
		tip.style.left = left + 'px';
		tip.style.top = top + 'px';
	}

	// [label, text] rows of the tooltip of node i of level k.
	describe(k, i) {
		const d = this.data, lv = d.levels[k], u = d.units;
		const rows = [['', d.names[lv.name[i]]]];
		if (d.format === 'double') {
			const ch = diffChange(lv.totalL[i], lv.totalR[i], d.leftTicks, d.rightTicks);
			rows.push(['baseline', `${formatValue(lv.totalL[i], u)} (${formatPercent(lv.totalL[i], d.leftTicks)}), self ${formatValue(lv.selfL[i], u)}`]);
			rows.push(['comparison', `${formatValue(lv.totalR[i], u)} (${formatPercent(lv.totalR[i], d.rightTicks)}), self ${formatValue(lv.selfR[i], u)}`]);
			rows.push(['change', ch === Infinity ? 'new' : (ch >= 0 ? '+' : '') + (100 * ch).toFixed(1) + '%']);
		} else {
			rows.push(['total', `${formatValue(lv.total[i], u)} (${formatPercent(lv.total[i], d.numTicks)})`]);
			rows.push(['self', `${formatValue(lv.self[i], u)} (${formatPercent(lv.self[i], d.numTicks)})`]);
		}
		return rows;
	}

	// Total of the nodes whose name matches, each stack counted once
	// (a match under a matching ancestor adds nothing), and its share;
	// for a diff also each side's (sumL, sumR).
	matchTotal() {
		const d = this.data;
		if (!d || (this.search === '' && this.highlight === '')) return null;
		const dbl = d.format === 'double';
		let sum = 0, sumL = 0, sumR = 0;
		const walk = (k, i, inside) => {
			const lv = d.levels[k];
			const m = this.matches(d.names[lv.name[i]]);
			if (m && !inside) {
				sum += lv.total[i];
				if (dbl) {
					sumL += lv.totalL[i];
					sumR += lv.totalR[i];
				}
			}
			if (k + 1 >= d.levels.length) return;
			const next = d.levels[k + 1];
			const x0 = lv.x[i], x1 = x0 + lv.total[i];
			for (let j = firstEndingAfter(next, x0); j < next.n && next.x[j] < x1; j++)
				walk(k + 1, j, inside || m);
		};
		for (let i = 0; i < d.levels[0].n; i++) walk(0, i, false);
		return { sum, share: sum / d.numTicks, sumL, sumR };
	}
}

// First node of lv whose end is after t (the first one visible from t).
function firstEndingAfter(lv, t) {
	let lo = 0, hi = lv.n;
	while (lo < hi) {
		const mid = (lo + hi) >> 1;
		if (lv.x[mid] + lv.total[mid] <= t) lo = mid + 1;
		else hi = mid;
	}
	return lo;
}
