// Flamebearer level decoding (render-http.md §4, connect-apis.md §4.3/§4.4).
//
// A level is a flat array of groups: 4 numbers per node for a single
// profile, [x_delta, total, self, name], and 7 for a diff, [xL_delta,
// totalL, selfL, xR_delta, totalR, selfR, name]. x is delta-encoded against
// the end (x + total) of the previous node of the same level.
//
// decodeLevels returns one object of typed arrays per level (typed arrays,
// not an object per node, so 100k nodes decode and draw without GC churn):
//   {n, x, total, self, name}            x and total in ticks
// and, for a diff, also xL, totalL, selfL, xR, totalR, selfR; x and total
// are then the sums of both sides (the combined layout the graph draws).

export function decodeLevels(levels, format) {
	const diff = format === 'double';
	const step = diff ? 7 : 4;
	const out = [];
	for (const lv of levels) {
		if (lv.length % step !== 0)
			throw new Error(`level of ${lv.length} numbers is not a multiple of ${step}`);
		const n = lv.length / step;
		const d = {
			n,
			x: new Float64Array(n),
			total: new Float64Array(n),
			self: new Float64Array(n),
			name: new Int32Array(n),
		};
		if (!diff) {
			let end = 0;
			for (let i = 0, j = 0; i < n; i++, j += 4) {
				const x = end + lv[j];
				d.x[i] = x;
				d.total[i] = lv[j + 1];
				d.self[i] = lv[j + 2];
				d.name[i] = lv[j + 3];
				end = x + lv[j + 1];
			}
		} else {
			for (const k of ['xL', 'totalL', 'selfL', 'xR', 'totalR', 'selfR'])
				d[k] = new Float64Array(n);
			let endL = 0, endR = 0;
			for (let i = 0, j = 0; i < n; i++, j += 7) {
				const xl = endL + lv[j], xr = endR + lv[j + 3];
				d.xL[i] = xl;
				d.totalL[i] = lv[j + 1];
				d.selfL[i] = lv[j + 2];
				d.xR[i] = xr;
				d.totalR[i] = lv[j + 4];
				d.selfR[i] = lv[j + 5];
				d.name[i] = lv[j + 6];
				d.x[i] = xl + xr;
				d.total[i] = lv[j + 1] + lv[j + 4];
				d.self[i] = lv[j + 2] + lv[j + 5];
				endL = xl + lv[j + 1];
				endR = xr + lv[j + 4];
			}
		}
		out.push(d);
	}
	return out;
}

// The index in level `lv` of the node covering tick t, or -1 (binary
// search: nodes of a level are sorted by x and do not overlap).
export function nodeAt(lv, t) {
	let lo = 0, hi = lv.n - 1;
	while (lo <= hi) {
		const mid = (lo + hi) >> 1;
		if (lv.x[mid] > t)
			hi = mid - 1;
		else if (lv.x[mid] + lv.total[mid] <= t)
			lo = mid + 1;
		else
			return mid;
	}
	return -1;
}

// Self and total summed per function name: the rows of the top table.
// A name's total counts each stack once (recursion is not added twice):
// a node adds its total only when no ancestor has the same name, which a
// depth-first walk tracks with a per-name count of the names on the stack.
export function topTable(levels, names) {
	const self = new Float64Array(names.length);
	const total = new Float64Array(names.length);
	const onStack = new Int32Array(names.length);
	const walk = (k, i) => {
		const lv = levels[k];
		const nm = lv.name[i];
		self[nm] += lv.self[i];
		if (onStack[nm] === 0)
			total[nm] += lv.total[i];
		onStack[nm]++;
		if (k + 1 < levels.length) {
			const next = levels[k + 1];
			const x0 = lv.x[i], x1 = x0 + lv.total[i];
			let j = firstAtOrAfter(next, x0);
			for (; j < next.n && next.x[j] < x1; j++)
				walk(k + 1, j);
		}
		onStack[nm]--;
	};
	if (levels.length > 0)
		for (let i = 0; i < levels[0].n; i++)
			walk(0, i);
	const rows = [];
	for (let i = 1; i < names.length; i++) // 0 is "total"
		if (total[i] > 0 || self[i] > 0)
			rows.push({ name: names[i], self: self[i], total: total[i] });
	return rows;
}

// First node of lv with x >= t.
function firstAtOrAfter(lv, t) {
	let lo = 0, hi = lv.n;
	while (lo < hi) {
		const mid = (lo + hi) >> 1;
		if (lv.x[mid] < t)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}
