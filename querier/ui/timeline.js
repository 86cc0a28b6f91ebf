// Timeline of the profile's total over the range (render's `timeline`,
// render-http.md §5: samples[i] covers [startTime + i·durationDelta,
// + durationDelta) seconds). Drag across it to pick a narrower range;
// onselect(fromMs, untilMs) is called when the mouse is released.

import { formatValue } from './format.js';

export class Timeline {
	constructor(canvas) {
		this.canvas = canvas;
		this.ctx = canvas.getContext('2d');
		this.tl = null;
		this.units = '';
		this.drag = null;
		this.onselect = null;
		canvas.addEventListener('mousedown', (e) => {
			this.drag = { a: this.xOf(e), b: this.xOf(e) };
		});
		window.addEventListener('mousemove', (e) => {
			if (this.drag === null) return;
			this.drag.b = this.xOf(e);
			this.render();
		});
		window.addEventListener('mouseup', () => {
			if (this.drag === null) return;
			const { a, b } = this.drag;
			this.drag = null;
			this.render();
			if (Math.abs(b - a) < 3 || !this.tl || this.tl.samples.length === 0) return;
			const [f, u] = [this.timeAt(Math.min(a, b)), this.timeAt(Math.max(a, b))];
			if (this.onselect) this.onselect(f, u);
		});
		new ResizeObserver(() => this.render()).observe(canvas.parentElement);
	}

	xOf(e) {
		const r = this.canvas.getBoundingClientRect();
		return Math.max(0, Math.min(r.width, e.clientX - r.left));
	}

	// Milliseconds at pixel x.
	timeAt(x) {
		const tl = this.tl, w = this.canvas.clientWidth;
		const span = tl.samples.length * tl.durationDelta;
		return Math.round((tl.startTime + (x / w) * span) * 1000);
	}

	set(tl, units) {
		this.tl = tl;
		this.units = units;
		this.render();
	}

	render() {
		const cv = this.canvas, ctx = this.ctx;
		const dpr = window.devicePixelRatio || 1;
		const w = cv.parentElement.clientWidth, h = 90;
		cv.style.width = w + 'px';
		cv.style.height = h + 'px';
		cv.width = Math.floor(w * dpr);
		cv.height = Math.floor(h * dpr);
		ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
		ctx.clearRect(0, 0, w, h);
		const tl = this.tl;
		ctx.font = '11px system-ui, sans-serif';
		ctx.fillStyle = '#666';
		if (!tl || tl.samples.length === 0) {
			ctx.fillText('No timeline for this range.', 6, 14);
			return;
		}
		const axis = 16, top = 12, ph = h - axis - top;
		const n = tl.samples.length;
		let max = 0;
		for (const v of tl.samples) max = Math.max(max, v);
		const bw = w / n;
		ctx.fillStyle = '#f97316';
		for (let i = 0; i < n; i++) {
			if (tl.samples[i] === 0) continue;
			const bh = max ? (tl.samples[i] / max) * ph : 0;
			ctx.fillRect(i * bw, top + ph - bh, Math.max(bw - (bw > 3 ? 1 : 0), 1), bh);
		}
		ctx.fillStyle = '#666';
		ctx.fillText('max ' + formatValue(max, this.units), 4, 10);
		// Time labels: about one per 120 px.
		const labels = Math.max(2, Math.floor(w / 120));
		const span = n * tl.durationDelta;
		ctx.textBaseline = 'bottom';
		for (let j = 0; j < labels; j++) {
			const x = (j / labels) * w;
			const t = new Date((tl.startTime + (j / labels) * span) * 1000);
			const s = span > 2 * 86400 ? t.toLocaleDateString() + ' ' + hhmm(t) : hhmm(t);
			ctx.fillText(s, x + 2, h);
			ctx.fillRect(x, top + ph, 1, 4);
		}
		ctx.textBaseline = 'alphabetic';
		if (this.drag) {
			const a = Math.min(this.drag.a, this.drag.b), b = Math.max(this.drag.a, this.drag.b);
			ctx.fillStyle = 'rgba(59,130,246,0.25)';
			ctx.fillRect(a, 0, b - a, h);
		}
	}
}

function hhmm(t) {
	return String(t.getHours()).padStart(2, '0') + ':' + String(t.getMinutes()).padStart(2, '0');
}
