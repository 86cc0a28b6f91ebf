// Trees the browser builds itself, and their conversion to the decoded
// level layout that flame.js draws (decode.js: per level typed arrays
// {n, x, total, self, name}, nodes sorted by x, a node's self placed
// before its children as on the wire).
//
// Built here: the sandwich of one function (its callers and its callees),
// the two sides of a diff for the side-by-side comparison, a local pprof
// (pprof.js), the regressions table of a diff, and the folded-text export.
// A trie node is {name (index into the names array), total, self,
// children: Map name → node}; only these derived graphs use objects, the
// server's graph stays in typed arrays.

export function trieNode(name) {
	return { name, total: 0, self: 0, children: new Map() };
}

// The child of parent named `name`, created when missing.
export function trieChild(parent, name) {
	let c = parent.children.get(name);
	if (c === undefined) {
		c = trieNode(name);
		parent.children.set(name, c);
	}
	return c;
}

// Root-first stack of name indexes with value v added under root.
export function trieAdd(root, stack, v) {
	root.total += v;
	let n = root;
	for (const nm of stack) {
		n = trieChild(n, nm);
		n.total += v;
	}
	n.self += v;
}

// Trie → decoded levels. Children are laid out by name (names[] order is
// the text), so one function lands at the same place in every derived
// graph; the root becomes level 0.
export function trieToLevels(root, names) {
	const perLevel = [];
	const walk = (node, k, x) => {
		if (perLevel.length <= k) perLevel.push([]);
		perLevel[k].push(x, node.total, node.self, node.name);
		let cx = x + node.self;
		const kids = [...node.children.values()].filter((c) => c.total > 0);
		kids.sort((a, b) => (names[a.name] < names[b.name] ? -1 : names[a.name] > names[b.name] ? 1 : 0));
		for (const c of kids) {
			walk(c, k + 1, cx);
			cx += c.total;
		}
	};
	if (root.total > 0) walk(root, 0, 0);
	return perLevel.map((flat) => {
		const n = flat.length / 4;
		const lv = { n, x: new Float64Array(n), total: new Float64Array(n),
			self: new Float64Array(n), name: new Int32Array(n) };
		for (let i = 0; i < n; i++) {
			lv.x[i] = flat[4 * i];
			lv.total[i] = flat[4 * i + 1];
			lv.self[i] = flat[4 * i + 2];
			lv.name[i] = flat[4 * i + 3];
		}
		return lv;
	});
}

// Index of the first node of lv with x >= t.
function firstAtOrAfter(lv, t) {
	let lo = 0, hi = lv.n;
	while (lo < hi) {
		const mid = (lo + hi) >> 1;
		if (lv.x[mid] < t) lo = mid + 1;
		else hi = mid;
	}
	return lo;
}

// Depth-first walk of decoded levels: visit(k, i, stack) gets the name
// indexes of the path from level 1 to the node (inclusive); return false
// to skip the node's children. Iterative, so a 1000-deep stack does not
// overflow the JS stack.
export function walkLevels(levels, visit) {
	if (levels.length === 0) return;
	const stack = [];
	const pending = [];
	for (let i = levels[0].n - 1; i >= 0; i--) pending.push(0, i);
	while (pending.length > 0) {
		const i = pending.pop(), k = pending.pop();
		if (k < 0) { // leaving a node
			stack.pop();
			continue;
		}
		const lv = levels[k];
		if (k > 0) stack.push(lv.name[i]);
		const descend = visit(k, i, stack) !== false;
		if (k > 0) pending.push(-1, 0);
		if (!descend || k + 1 >= levels.length) continue;
		const next = levels[k + 1];
		const x0 = lv.x[i], x1 = x0 + lv.total[i];
		const first = firstAtOrAfter(next, x0);
		let last = first;
		while (last < next.n && next.x[last] < x1) last++;
		for (let j = last - 1; j >= first; j--) pending.push(k + 1, j);
	}
}

// Sandwich of function `fn` (a name index): callers = every path from the
// top of the stack down to an outermost call of fn, as a trie rooted at
// fn whose children are its immediate callers (drawn upside down, fn at
// the bottom); callees = the subtrees under those calls merged into one,
// rooted at fn. A recursive call inside fn's subtree is part of the
// callees, not a second root, so both graphs total fn's total.
export function sandwich(levels, names, fn) {
	const callers = trieNode(fn), callees = trieNode(fn);
	const merge = (dst, k, i) => {
		const lv = levels[k];
		dst.total += lv.total[i];
		dst.self += lv.self[i];
		if (k + 1 >= levels.length) return;
		const next = levels[k + 1];
		const x0 = lv.x[i], x1 = x0 + lv.total[i];
		for (let j = firstAtOrAfter(next, x0); j < next.n && next.x[j] < x1; j++)
			merge(trieChild(dst, next.name[j]), k + 1, j);
	};
	walkLevels(levels, (k, i, stack) => {
		if (k === 0 || levels[k].name[i] !== fn) return true;
		const v = levels[k].total[i];
		callers.total += v;
		let n = callers;
		for (let s = stack.length - 2; s >= 0; s--) {
			n = trieChild(n, stack[s]);
			n.total += v;
		}
		n.self += v;
		merge(callees, k, i);
		return false;
	});
	return { callers: trieToLevels(callers, names), callees: trieToLevels(callees, names),
		total: callers.total };
}

// One side ('L' or 'R') of decoded diff levels as single levels, for the
// side-by-side comparison: nodes absent on that side are dropped.
export function sideLevels(levels, side) {
	const X = 'x' + side, T = 'total' + side, S = 'self' + side;
	const out = [];
	for (const lv of levels) {
		let n = 0;
		for (let i = 0; i < lv.n; i++) if (lv[T][i] > 0) n++;
		if (n === 0) break;
		const d = { n, x: new Float64Array(n), total: new Float64Array(n),
			self: new Float64Array(n), name: new Int32Array(n) };
		for (let i = 0, j = 0; i < lv.n; i++) {
			if (!(lv[T][i] > 0)) continue;
			d.x[j] = lv[X][i];
			d.total[j] = lv[T][i];
			d.self[j] = lv[S][i];
			d.name[j] = lv.name[i];
			j++;
		}
		out.push(d);
	}
	return out;
}

// Per function of a diff: totals and selfs of both sides (a recursive
// function's total counted once per stack) and the relative change of its
// total's share; sorted by the growth of the share, the biggest
// regression first.
export function diffRows(levels, names, leftTicks, rightTicks) {
	const acc = new Map();
	const onStack = new Int32Array(names.length);
	const open = [];
	walkLevels(levels, (k, i, stack) => {
		while (open.length > stack.length - 1 && open.length > 0) onStack[open.pop()]--;
		if (k === 0) return true;
		const lv = levels[k], nm = lv.name[i];
		let r = acc.get(nm);
		if (r === undefined) {
			r = { name: names[nm], totalL: 0, totalR: 0, selfL: 0, selfR: 0 };
			acc.set(nm, r);
		}
		r.selfL += lv.selfL[i];
		r.selfR += lv.selfR[i];
		if (onStack[nm] === 0) {
			r.totalL += lv.totalL[i];
			r.totalR += lv.totalR[i];
		}
		onStack[nm]++;
		open.push(nm);
		return true;
	});
	const rows = [...acc.values()];
	for (const r of rows) {
		r.shareL = leftTicks ? r.totalL / leftTicks : 0;
		r.shareR = rightTicks ? r.totalR / rightTicks : 0;
		r.change = r.shareL === 0 ? (r.shareR > 0 ? Infinity : 0) : (r.shareR - r.shareL) / r.shareL;
	}
	rows.sort((a, b) => (b.shareR - b.shareL) - (a.shareR - a.shareL) || (a.name < b.name ? -1 : 1));
	return rows;
}

// Folded text ("a;b;c 12" per line, Brendan Gregg's format, what /ingest
// takes back): one line per node with self, root-first, in graph order.
export function foldedText(levels, names) {
	const out = [];
	walkLevels(levels, (k, i, stack) => {
		const s = levels[k].self[i];
		if (k > 0 && s > 0) out.push(stack.map((nm) => names[nm]).join(';') + ' ' + s);
		return true;
	});
	return out.length ? out.join('\n') + '\n' : '';
}

// Decoded single levels → flamebearer levels (render-http.md §4: groups
// [x_delta, total, self, name], x delta-encoded against the previous
// node's end), the inverse of decodeLevels.
export function encodeLevels(levels) {
	return levels.map((lv) => {
		const out = new Array(lv.n * 4);
		let end = 0;
		for (let i = 0; i < lv.n; i++) {
			out[4 * i] = lv.x[i] - end;
			out[4 * i + 1] = lv.total[i];
			out[4 * i + 2] = lv.self[i];
			out[4 * i + 3] = lv.name[i];
			end = lv.x[i] + lv.total[i];
		}
		return out;
	});
}
