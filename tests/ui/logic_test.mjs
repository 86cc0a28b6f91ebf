// Unit test of the UI's logic that needs no browser: derived graphs
// (tree.js), the pprof reader and the export request (pprof.js), selector
// edits (query.js), autocomplete contexts, time parsing (api.js), label
// shares and change texts. Run: node tests/ui/logic_test.mjs (CTest:
// ui_logic, when node exists).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fs from 'node:fs';
import { decodeLevels } from '../../querier/ui/decode.js';
import { sandwich, sideLevels, diffRows, foldedText, encodeLevels, trieNode, trieAdd, trieToLevels } from '../../querier/ui/tree.js';
import { parseProfile, gunzipIfNeeded, gzip, profileToGraph, sampleTypesOf, defaultTypeIndex,
	encodeSelectMergeProfile } from '../../querier/ui/pprof.js';
import { splitQuery, splitMatchers, withMatcher, withService, serviceOf } from '../../querier/ui/query.js';
import { completionContext } from '../../querier/ui/autocomplete.js';
import { parseTime } from '../../querier/ui/api.js';
import { labelShares } from '../../querier/ui/labels.js';
import { changeText } from '../../querier/ui/table.js';

const TESTDATA = process.env.HEARTH_TESTDATA || new URL('../../../shared/testdata', import.meta.url).pathname;
const arr = (ta) => Array.from(ta);

// render-http.md §4.1: main;work;compute 60, main;work 20, main;idle 10, gc 10.
const single = {
	names: ['total', 'main', 'work', 'compute', 'idle', 'gc'],
	levels: [[0, 100, 0, 0], [0, 10, 10, 5, 0, 90, 0, 1], [10, 10, 10, 4, 0, 80, 20, 2], [40, 60, 60, 3]],
};
// render-http.md §6.1 (diff): left main;a 10, main;b 5; right main;a 4, main;c 6.
const double = {
	names: ['total', 'main', 'c', 'b', 'a'],
	levels: [[0, 15, 0, 0, 10, 0, 0], [0, 15, 0, 0, 10, 0, 1],
		[0, 10, 10, 0, 4, 4, 4, 0, 5, 5, 0, 0, 0, 3, 0, 0, 0, 0, 6, 6, 2]],
};

test('folded text of a graph, root first, one line per self', () => {
	const l = decodeLevels(single.levels, 'single');
	assert.equal(foldedText(l, single.names), 'gc 10\nmain;idle 10\nmain;work 20\nmain;work;compute 60\n');
});

test('encodeLevels is the inverse of decodeLevels', () => {
	assert.deepEqual(encodeLevels(decodeLevels(single.levels, 'single')), single.levels);
});

test('trie to levels lays children out by name, self first', () => {
	const root = trieNode(0);
	trieAdd(root, [1, 2, 3], 60);
	trieAdd(root, [1, 2], 20);
	trieAdd(root, [1, 4], 10);
	trieAdd(root, [5], 10);
	const l = trieToLevels(root, single.names);
	assert.deepEqual(arr(l[1].name), [5, 1]); // gc < main
	assert.deepEqual(arr(l[1].x), [0, 10]);
	assert.deepEqual(arr(l[2].name), [4, 2]); // idle < work
	assert.deepEqual(arr(l[2].x), [10, 20]);
	assert.deepEqual(arr(l[3].x), [40]);
	assert.deepEqual(encodeLevels(l), single.levels);
});

test('sandwich: callers up to the root, callees merged', () => {
	// f called from main and from g; f recursive once under main.
	const names = ['total', 'main', 'f', 'g', 'h'];
	const root = trieNode(0);
	trieAdd(root, [1, 2, 4], 30);        // main;f;h
	trieAdd(root, [1, 2, 2, 4], 5);      // main;f;f;h (recursion: counted once)
	trieAdd(root, [1, 3, 2], 10);        // main;g;f
	trieAdd(root, [1, 3], 7);            // main;g
	const l = trieToLevels(root, names);
	const s = sandwich(l, names, 2);
	assert.equal(s.total, 45);
	// Callers: f ← main (35), f ← g ← main (10).
	assert.deepEqual(arr(s.callers[0].name), [2]);
	assert.deepEqual(arr(s.callers[1].name), [3, 1]);
	assert.deepEqual(arr(s.callers[1].total), [10, 35]);
	assert.deepEqual(arr(s.callers[2].name), [1]);
	assert.deepEqual(arr(s.callers[2].total), [10]);
	// Callees: f → f → h 5, f → h 30, f self 10.
	assert.deepEqual(arr(s.callees[0].total), [45]);
	assert.deepEqual(arr(s.callees[0].self), [10]);
	assert.deepEqual(arr(s.callees[1].name), [2, 4]);
	assert.deepEqual(arr(s.callees[1].total), [5, 30]);
	assert.deepEqual(arr(s.callees[2].name), [4]);
});

test('diff sides and regressions (render-http.md §6.1)', () => {
	const l = decodeLevels(double.levels, 'double');
	const left = sideLevels(l, 'L'), right = sideLevels(l, 'R');
	assert.deepEqual(arr(left[2].name), [4, 3]);
	assert.deepEqual(arr(left[2].x), [0, 10]);
	assert.deepEqual(arr(right[2].name), [4, 2]);
	assert.deepEqual(arr(right[2].x), [0, 4]);
	assert.deepEqual(arr(right[2].total), [4, 6]);
	const rows = diffRows(l, double.names, 15, 10);
	assert.deepEqual(rows.map((r) => [r.name, r.totalL, r.totalR]),
		[['c', 0, 6], ['main', 15, 10], ['a', 10, 4], ['b', 5, 0]]); // share 0 → 60 %, =, -26.7 pt, -33.3 pt
	assert.equal(rows[0].change, Infinity);
	assert.equal(rows[1].change, 0);
	assert.ok(Math.abs(rows[2].change - (0.4 - 10 / 15) / (10 / 15)) < 1e-12);
	assert.equal(rows[3].change, -1);
	assert.equal(changeText(Infinity), 'new');
	assert.equal(changeText(-1), 'gone');
	assert.equal(changeText(-0.4), '-40.0%');
	assert.equal(changeText(0.125), '+12.5%');
});

test('local pprof: the testdata cpu profile decodes as hearth ingests it', async () => {
	const raw = new Uint8Array(fs.readFileSync(`${TESTDATA}/pprof/cpu.pb.gz`));
	const p = parseProfile(await gunzipIfNeeded(raw));
	assert.deepEqual(sampleTypesOf(p), [{ type: 'samples', unit: 'count' }, { type: 'cpu', unit: 'nanoseconds' }]);
	assert.equal(defaultTypeIndex(p), 1);
	const g = profileToGraph(p, 1);
	assert.equal(g.numTicks, 470000000);
	assert.equal(g.units, 'nanoseconds');
	assert.equal(profileToGraph(p, 0).numTicks, 47);
	// Raw (not gzip) input is read as is; gzip round trip.
	const plain = await gunzipIfNeeded(raw);
	assert.deepEqual(await gunzipIfNeeded(await gzip(plain)), plain);
	assert.equal(profileToGraph(parseProfile(plain), 1).numTicks, 470000000);
});

test('pprof reader: frames, negative values and bad input', () => {
	// strings: "", "cpu", "ns", "main", "f"; functions 1 main, 2 f;
	// location 1 = lines [f (inlined), main]; location 2 without lines at 0xbeef.
	const enc = new TextEncoder();
	const out = [];
	const v = (n) => { while (n >= 0x80) { out.push((n & 0x7f) | 0x80); n = Math.floor(n / 128); } out.push(n); };
	const msg = (f, bytes) => { v(f * 8 + 2); v(bytes.length); out.push(...bytes); };
	const sub = (fill) => { const save = out.splice(0); fill(); const b = out.splice(0); out.push(...save); return b; };
	msg(1, sub(() => { v(8); v(1); v(16); v(2); }));
	msg(2, sub(() => { msg(1, [1]); msg(2, [7]); }));            // stack: loc 1 → main;f 7
	msg(2, sub(() => { msg(1, [2, 1]); msg(2, [3]); }));         // loc 2 leaf under loc 1
	msg(2, sub(() => { msg(1, [1]); v(16); v(0); }));           // value 0: dropped
	msg(4, sub(() => { v(8); v(1); msg(4, sub(() => { v(8); v(2); })); msg(4, sub(() => { v(8); v(1); })); }));
	msg(4, sub(() => { v(8); v(2); v(24); v(0xbeef); }));
	msg(5, sub(() => { v(8); v(1); v(16); v(3); }));
	msg(5, sub(() => { v(8); v(2); v(16); v(4); }));
	for (const s of ['', 'cpu', 'ns', 'main', 'f']) msg(6, [...enc.encode(s)]);
	const p = parseProfile(new Uint8Array(out));
	const g = profileToGraph(p, 0);
	assert.equal(g.numTicks, 10);
	assert.deepEqual(g.names, ['total', 'main', 'f', '0xbeef']);
	assert.equal(foldedText(g.levels, g.names), 'main;f 7\nmain;f;0xbeef 3\n');
	assert.throws(() => parseProfile(new Uint8Array([0x0a, 0x05, 0x08])), /not a pprof profile: field of 5 bytes past the end/);
	assert.throws(() => parseProfile(enc.encode('hello')), /not a pprof profile/);
	assert.throws(() => parseProfile(new Uint8Array([0x50, 0x01])), /it has no sample_type/);
});

test('export request: SelectMergeProfileRequest bytes', () => {
	const b = encodeSelectMergeProfile('a:b', '{x="y"}', 1000, 2000);
	assert.deepEqual(Array.from(b), [0x0a, 3, 0x61, 0x3a, 0x62, 0x12, 7, 0x7b, 0x78, 0x3d, 0x22, 0x79, 0x22, 0x7d,
		0x18, 0xe8, 0x07, 0x20, 0xd0, 0x0f]);
});

test('selector edits keep the other matchers', () => {
	const q = 'cpu:a:b:c:d{service_name="shop", env=~"a,b", pod="x"}';
	assert.deepEqual(splitQuery(q), { type: 'cpu:a:b:c:d', matchers: 'service_name="shop", env=~"a,b", pod="x"' });
	assert.deepEqual(splitMatchers('a="x,y", b=~\'q\\\'\', c!="}"'), ['a="x,y"', 'b=~\'q\\\'\'', 'c!="}"']);
	assert.equal(withMatcher(q, 'pod', 'y"z'), 'cpu:a:b:c:d{pod="y\\"z", service_name="shop", env=~"a,b"}');
	assert.equal(withMatcher(q, 'env', null), 'cpu:a:b:c:d{service_name="shop", pod="x"}');
	assert.equal(withService(q, ''), 'cpu:a:b:c:d{env=~"a,b", pod="x"}');
	assert.equal(serviceOf(q), 'shop');
	assert.equal(serviceOf('t{xservice_name="no"}'), '');
	assert.equal(withService('t{}', 'a\\b'), 't{service_name="a\\\\b"}');
});

test('autocomplete knows what the cursor is in', () => {
	assert.deepEqual(completionContext('process_c'), { kind: 'type', prefix: 'process_c', start: 0 });
	assert.deepEqual(completionContext('t{'), { kind: 'name', prefix: '', start: 2 });
	assert.deepEqual(completionContext('t{a="1", po'), { kind: 'name', prefix: 'po', start: 9 });
	assert.deepEqual(completionContext('t{pod="b'), { kind: 'value', label: 'pod', prefix: 'b', start: 7, quote: '"' });
	assert.deepEqual(completionContext('t{pod=~'), { kind: 'value', label: 'pod', prefix: '', start: 7, quote: '' });
	assert.equal(completionContext('t{pod="b"'), null);
	assert.deepEqual(completionContext('t{env="a,b", x'), { kind: 'name', prefix: 'x', start: 13 });
	assert.equal(completionContext('t{a="1"}'), null);
});

test('times as render reads them', () => {
	const now = Date.UTC(2024, 0, 2, 12, 0, 0);
	assert.equal(parseTime('now', now), now);
	assert.equal(parseTime('now-1h30m', now), now - 5400e3);
	assert.equal(parseTime('now-7d', now), now - 7 * 86400e3);
	assert.equal(parseTime('1700000000', now), 1700000000e3);
	assert.equal(parseTime('1700000000123', now), 1700000000123);
	assert.equal(parseTime('1700000000123456', now), 1700000000123);
	assert.equal(parseTime('1700000000123456789', now), 1700000000123);
	assert.equal(parseTime('20240101', now), Date.UTC(2024, 0, 1));
	assert.ok(Number.isNaN(parseTime('yesterday', now)));
});

test('label shares: values by total, the rest as other', () => {
	const groups = {};
	for (let i = 0; i < 10; i++) groups['v' + i] = { startTime: 0, durationDelta: 15, samples: [i, 1] };
	const s = labelShares(groups);
	assert.equal(s.sum, 55);
	assert.deepEqual(s.top.map((v) => v.value), ['v9', 'v8', 'v7', 'v6', 'v5', 'v4', 'v3', 'v2']);
	assert.equal(s.top[0].share, 10 / 55);
	assert.equal(s.other, 2 + 1);
	assert.deepEqual(labelShares(null).all, []);
});
