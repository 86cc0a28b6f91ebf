// Label explorer: for one label, each value's share of the total over
// time (a 100 % stacked bar per timeline bucket, from render's `groups`
// with groupBy=<label>), a row per value with its total and share, and a
// small flame graph per value (its own render, few nodes) to spot the pod
// or version whose profile differs. The first MAX_VALUES values by total
// get a colour, a row and a graph; the rest are summed as "other".

import { decodeLevels } from './decode.js';
import { FlameGraph } from './flame.js';
import { formatValue, formatPercent } from './format.js';

export const MAX_VALUES = 8;
export const COLORS = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7'];
const OTHER = '#bab0ac';

// groups: {value: timeline}; → [{value, total, share, samples}] sorted by
// total (the first MAX_VALUES), plus other's total.
export function labelShares(groups) {
	const all = Object.entries(groups || {}).map(([value, tl]) => ({
		value, samples: tl.samples, total: tl.samples.reduce((a, b) => a + b, 0) }));
	all.sort((a, b) => b.total - a.total || (a.value < b.value ? -1 : 1));
	const sum = all.reduce((a, r) => a + r.total, 0);
	for (const r of all) r.share = sum ? r.total / sum : 0;
	const top = all.slice(0, MAX_VALUES);
	return { top, other: all.slice(MAX_VALUES).reduce((a, r) => a + r.total, 0), sum, all };
}

export class LabelExplorer {
	constructor(chart, tbody, tooltip) {
		this.chart = chart;
		this.tbody = tbody;
		this.tooltip = tooltip;
		this.onpick = null; // (value) when a value's row is clicked
		this.graphs = [];
		this.shares = null;
		new ResizeObserver(() => { if (this.chart.isConnected) this.draw(); }).observe(chart.parentElement);
	}

	// r: render answer with groups; graphOf(value) → Promise of a render
	// answer for that value alone.
	set(r, units, graphOf) {
		this.timeline = r.timeline;
		this.units = units;
		this.shares = labelShares(r.groups);
		this.draw();
		this.graphs = [];
		const rows = this.shares.top.map((v, j) => {
			const tr = document.createElement('tr');
			tr.dataset.value = v.value;
			const name = document.createElement('td');
			const sw = document.createElement('span');
			sw.className = 'swatch';
			sw.style.background = COLORS[j];
			name.append(sw, document.createTextNode(v.value === '' ? '(no value)' : v.value));
			const tot = document.createElement('td');
			tot.className = 'num';
			tot.textContent = formatValue(v.total, units);
			const sh = document.createElement('td');
			sh.className = 'num';
			sh.textContent = formatPercent(v.total, this.shares.sum);
			const g = document.createElement('td');
			g.className = 'mini';
			const cv = document.createElement('canvas');
			g.append(cv);
			tr.append(name, tot, sh, g);
			tr.addEventListener('click', () => { if (this.onpick) this.onpick(v.value); });
			const fg = new FlameGraph(cv, this.tooltip, { row: 9, labels: false });
			this.graphs.push(fg);
			graphOf(v.value).then((gr) => {
				const fb = gr.flamebearer;
				fg.setData({ names: fb.names, levels: decodeLevels(fb.levels, 'single'),
					numTicks: fb.numTicks, format: 'single', units });
			}).catch((e) => { g.textContent = String(e.message || e); });
			return tr;
		});
		this.tbody.replaceChildren(...rows);
	}

	// 100 % stacked bars: per bucket, each top value's share of that
	// bucket's sum, "other" on top in grey.
	draw() {
		const cv = this.chart, ctx = cv.getContext('2d');
		const dpr = window.devicePixelRatio || 1;
		const w = cv.parentElement.clientWidth, h = 140;
		cv.style.width = w + 'px';
		cv.style.height = h + 'px';
		cv.width = Math.max(1, Math.floor(w * dpr));
		cv.height = Math.floor(h * dpr);
		ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
		ctx.clearRect(0, 0, w, h);
		ctx.font = '11px system-ui, sans-serif';
		const s = this.shares;
		if (!s || s.all.length === 0) {
			ctx.fillStyle = '#666';
			ctx.fillText('No values of this label in this range.', 6, 14);
			return;
		}
		const n = s.all[0].samples.length;
		const bw = w / n, ph = h - 4;
		for (let b = 0; b < n; b++) {
			let sum = 0;
			for (const v of s.all) sum += v.samples[b] || 0;
			if (sum === 0) continue;
			let y = h;
			const seg = (v, color) => {
				const bh = (v / sum) * ph;
				ctx.fillStyle = color;
				ctx.fillRect(b * bw, y - bh, Math.max(bw - (bw > 3 ? 1 : 0), 1), bh);
				y -= bh;
			};
			s.top.forEach((v, j) => seg(v.samples[b] || 0, COLORS[j]));
			let other = 0;
			for (const v of s.all.slice(MAX_VALUES)) other += v.samples[b] || 0;
			seg(other, OTHER);
		}
	}
}
