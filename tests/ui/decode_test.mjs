// Unit test of the UI's flamebearer decoding (querier/ui/decode.js) and
// formatting against the worked examples of render-http.md §4.1 and §6.1.
// Run: node tests/ui/decode_test.mjs (CTest: ui_decode, when node exists).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeLevels, nodeAt, topTable } from '../../querier/ui/decode.js';
import { formatValue, formatPercent } from '../../querier/ui/format.js';
import { packageOf, diffChange, diffColor } from '../../querier/ui/flame.js';

const single = {
	names: ['total', 'main', 'work', 'compute', 'idle', 'gc'],
	levels: [[0, 100, 0, 0],
		[0, 10, 10, 5, 0, 90, 0, 1],
		[10, 10, 10, 4, 0, 80, 20, 2],
		[40, 60, 60, 3]],
};

const double = {
	names: ['total', 'main', 'c', 'b', 'a'],
	levels: [[0, 15, 0, 0, 10, 0, 0],
		[0, 15, 0, 0, 10, 0, 1],
		[0, 10, 10, 0, 4, 4, 4, 0, 5, 5, 0, 0, 0, 3, 0, 0, 0, 0, 6, 6, 2]],
};

const arr = (ta) => Array.from(ta);

test('single levels decode to absolute x (render-http.md §4.1)', () => {
	const l = decodeLevels(single.levels, 'single');
	assert.equal(l.length, 4);
	assert.deepEqual(arr(l[0].x), [0]);
	assert.deepEqual(arr(l[1].x), [0, 10]);
	assert.deepEqual(arr(l[1].total), [10, 90]);
	assert.deepEqual(arr(l[1].name), [5, 1]);
	// "idle starts at 0+10 = 10 and ends at 20; work starts at 20+0 = 20"
	assert.deepEqual(arr(l[2].x), [10, 20]);
	assert.deepEqual(arr(l[2].self), [10, 20]);
	// "compute starts at 40 (work's x 20 + work's self 20)"
	assert.deepEqual(arr(l[3].x), [40]);
	assert.deepEqual(arr(l[3].total), [60]);
});

test('double levels decode each side and the combined layout (§6.1)', () => {
	const l = decodeLevels(double.levels, 'double');
	const lv = l[2];
	assert.equal(lv.n, 3);
	assert.deepEqual(arr(lv.xL), [0, 10, 15]);
	assert.deepEqual(arr(lv.totalL), [10, 5, 0]);
	assert.deepEqual(arr(lv.xR), [0, 4, 4]);
	assert.deepEqual(arr(lv.totalR), [4, 0, 6]);
	assert.deepEqual(arr(lv.x), [0, 14, 19]);
	assert.deepEqual(arr(lv.total), [14, 5, 6]);
	assert.deepEqual(arr(lv.name), [4, 3, 2]);
	assert.deepEqual(arr(l[0].total), [25]);
});

test('a level that is not whole groups is refused', () => {
	assert.throws(() => decodeLevels([[0, 1, 0]], 'single'), /multiple of 4/);
});

test('nodeAt finds the node under a tick', () => {
	const l = decodeLevels(single.levels, 'single');
	assert.equal(nodeAt(l[1], 0), 0);
	assert.equal(nodeAt(l[1], 9.5), 0);
	assert.equal(nodeAt(l[1], 10), 1);
	assert.equal(nodeAt(l[2], 5), -1);
	assert.equal(nodeAt(l[3], 99), 0);
	assert.equal(nodeAt(l[3], 100), -1);
});

test('top table sums self and total per name, recursion counted once', () => {
	const rows = topTable(decodeLevels(single.levels, 'single'), single.names);
	const by = Object.fromEntries(rows.map((r) => [r.name, [r.self, r.total]]));
	assert.deepEqual(by, { main: [0, 90], work: [20, 80], compute: [60, 60], idle: [10, 10], gc: [10, 10] });
	// f;f;g 10 → f total 10 (not 20), self 0
	const rec = topTable(decodeLevels([[0, 10, 0, 0], [0, 10, 0, 1], [0, 10, 0, 1], [0, 10, 10, 2]], 'single'),
		['total', 'f', 'g']);
	assert.deepEqual(rec, [{ name: 'f', self: 0, total: 10 }, { name: 'g', self: 10, total: 10 }]);
});

test('values are formatted by unit', () => {
	assert.equal(formatValue(1500000, 'nanoseconds'), '1.50 ms');
	assert.equal(formatValue(2e9, 'nanoseconds'), '2 s');
	assert.equal(formatValue(3 * 1048576, 'bytes'), '3 MiB');
	assert.equal(formatValue(512, 'bytes'), '512 B');
	assert.equal(formatValue(12345, 'objects'), '12.3k objects');
	assert.equal(formatPercent(1, 3), '33.3%');
	assert.equal(formatPercent(0, 0), '0%');
});

test('package of a function name picks its colour', () => {
	assert.equal(packageOf('net/http.(*conn).serve'), 'net/http');
	assert.equal(packageOf('runtime.mallocgc'), 'runtime');
	assert.equal(packageOf('std::vec::Vec::push'), 'std::vec::Vec');
	assert.equal(packageOf('main'), 'main');
});

test('diff colours follow the relative change of the share', () => {
	assert.equal(diffChange(10, 4, 15, 10), (0.4 - 10 / 15) / (10 / 15));
	assert.equal(diffChange(0, 6, 15, 10), Infinity);
	assert.equal(diffColor(0), 'rgb(200,200,200)');
	assert.equal(diffColor(1), 'rgb(230,40,40)');
	assert.equal(diffColor(-1), 'rgb(30,170,60)');
	assert.equal(diffColor(Infinity), 'rgb(230,40,40)');
});
