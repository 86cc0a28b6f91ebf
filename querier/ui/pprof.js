// A local pprof file decoded in the browser, to view it without ingesting
// it; and the small protobuf writer the pprof export's Connect request
// needs.
//
// Only the Profile fields a flame graph needs are read: sample_type (1),
// sample (2: location ids, values), location (4: id, address, lines),
// function (5: id, name, system_name), string_table (6), time_nanos (9),
// duration_nanos (10), default_sample_type (14); everything else is
// skipped by wire type. Stacks are turned into frames by the rules hearth
// ingests with (ingest-http.md, model.md): locations leaf first, a
// location's lines from the last (the caller the others were inlined
// into) to line[0]; a frame is the function's name, else its system
// name; a location without lines is its address in hex; samples with a
// negative value or only zeros are dropped, as are zero values of the
// chosen sample type.

import { trieNode, trieChild, trieToLevels } from './tree.js';

const TWO32 = 4294967296;

// Gzip is recognised by its magic bytes, like the server sniffs it.
export async function gunzipIfNeeded(bytes) {
	if (bytes.length < 2 || bytes[0] !== 0x1f || bytes[1] !== 0x8b) return bytes;
	const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'));
	return new Uint8Array(await new Response(stream).arrayBuffer());
}

export async function gzip(bytes) {
	const stream = new Blob([bytes]).stream().pipeThrough(new CompressionStream('gzip'));
	return new Uint8Array(await new Response(stream).arrayBuffer());
}

class Reader {
	constructor(buf, start, end) {
		this.buf = buf;
		this.pos = start;
		this.end = end;
	}

	fail(what) {
		throw new Error(`not a pprof profile: ${what} at byte ${this.pos}`);
	}

	// Varint as two 32-bit halves (JS numbers are exact only to 2^53).
	halves() {
		let lo = 0, hi = 0, shift = 0;
		for (;;) {
			if (this.pos >= this.end) this.fail('truncated varint');
			const b = this.buf[this.pos++];
			if (shift < 28) lo |= (b & 0x7f) << shift;
			else if (shift === 28) {
				lo |= (b & 0x0f) << 28;
				hi |= (b & 0x7f) >> 4;
			} else hi |= (b & 0x7f) << (shift - 32); // bits past 64 fall off
			if ((b & 0x80) === 0) break;
			shift += 7;
			if (shift >= 70) this.fail('varint longer than 10 bytes');
		}
		return [lo >>> 0, hi >>> 0];
	}

	uint() {
		const [lo, hi] = this.halves();
		return hi * TWO32 + lo;
	}

	int() {
		const [lo, hi] = this.halves();
		return hi >= 0x80000000 ? (hi - TWO32) * TWO32 + lo : hi * TWO32 + lo;
	}

	// Length of a length-delimited field; the reader is left at its start.
	len() {
		const n = this.uint();
		if (n > this.end - this.pos) this.fail(`field of ${n} bytes past the end`);
		return n;
	}

	skip(wt) {
		if (wt === 0) this.halves();
		else if (wt === 1) this.pos += 8;
		else if (wt === 2) {
			const n = this.len(); // (pos += len() would add to the old pos)
			this.pos += n;
		}
		else if (wt === 5) this.pos += 4;
		else this.fail(`unsupported wire type ${wt}`);
		if (this.pos > this.end) this.fail('truncated field');
	}

	// Fields of the message between pos and end: cb(fieldNo, wireType).
	fields(cb) {
		while (this.pos < this.end) {
			const key = this.uint();
			const fno = Math.floor(key / 8), wt = key % 8;
			if (fno === 0) this.fail('field number 0');
			const at = this.pos;
			if (cb(fno, wt) === false || this.pos === at) this.skip(wt);
		}
	}

	sub(cb) {
		const n = this.len();
		const r = new Reader(this.buf, this.pos, this.pos + n);
		r.fields((f, w) => cb(r, f, w));
		this.pos += n;
	}

	// A repeated integer field, packed (wire type 2) or not.
	repeated(wt, out, signed) {
		if (wt === 2) {
			const n = this.len(), end = this.pos + n;
			while (this.pos < end) out.push(signed ? this.int() : this.uint());
			if (this.pos !== end) this.fail('packed field overruns');
		} else if (wt === 0) out.push(signed ? this.int() : this.uint());
		else this.fail(`repeated integer with wire type ${wt}`);
	}

	string() {
		const n = this.len();
		const s = TEXT.decode(this.buf.subarray(this.pos, this.pos + n));
		this.pos += n;
		return s;
	}
}

const TEXT = new TextDecoder();

// The parsed profile: {sampleTypes: [{type, unit}], defaultType, samples:
// [{locs, values}], locations: Map id → {address, lines: [[fid, line]]},
// functions: Map id → {name, systemName}, strings, timeNanos,
// durationNanos}. String fields keep their string-table indexes until
// resolved by str(). Throws an Error naming what was wrong.
export function parseProfile(bytes) {
	const r = new Reader(bytes, 0, bytes.length);
	const p = { sampleTypes: [], samples: [], locations: new Map(), functions: new Map(),
		strings: [], timeNanos: 0, durationNanos: 0, defaultType: 0 };
	const valueType = (rr) => {
		const vt = { type: 0, unit: 0 };
		rr.sub((m, g, w) => {
			if (g === 1 && w === 0) vt.type = m.int();
			else if (g === 2 && w === 0) vt.unit = m.int();
			else return false;
			return true;
		});
		return vt;
	};
	r.fields((f, wt) => {
		if (f === 1 && wt === 2) p.sampleTypes.push(valueType(r));
		else if (f === 2 && wt === 2) {
			const s = { locs: [], values: [] };
			r.sub((m, g, w) => {
				if (g === 1) m.repeated(w, s.locs, false);
				else if (g === 2) m.repeated(w, s.values, true);
				else return false;
				return true;
			});
			p.samples.push(s);
		} else if (f === 4 && wt === 2) {
			const loc = { id: 0, address: 0, lines: [] };
			r.sub((m, g, w) => {
				if (g === 1 && w === 0) loc.id = m.uint();
				else if (g === 3 && w === 0) loc.address = m.uint();
				else if (g === 4 && w === 2) {
					const ln = [0, 0];
					m.sub((q, h, x) => {
						if (h === 1 && x === 0) ln[0] = q.uint();
						else if (h === 2 && x === 0) ln[1] = q.int();
						else return false;
						return true;
					});
					loc.lines.push(ln);
				} else return false;
				return true;
			});
			p.locations.set(loc.id, loc);
		} else if (f === 5 && wt === 2) {
			const fn = { id: 0, name: 0, systemName: 0 };
			r.sub((m, g, w) => {
				if (g === 1 && w === 0) fn.id = m.uint();
				else if (g === 2 && w === 0) fn.name = m.int();
				else if (g === 3 && w === 0) fn.systemName = m.int();
				else return false;
				return true;
			});
			p.functions.set(fn.id, fn);
		} else if (f === 6 && wt === 2) p.strings.push(r.string());
		else if (f === 9 && wt === 0) p.timeNanos = r.int();
		else if (f === 10 && wt === 0) p.durationNanos = r.int();
		else if (f === 14 && wt === 0) p.defaultType = r.int();
		else return false;
		return true;
	});
	if (p.sampleTypes.length === 0) throw new Error('not a pprof profile: it has no sample_type');
	return p;
}

function str(p, i, what) {
	if (i < 0 || i >= p.strings.length)
		throw new Error(`pprof: ${what} names string ${i}, but the string table has ${p.strings.length}`);
	return p.strings[i];
}

// Root-first frame names of a sample (see the top comment).
function frames(p, s) {
	const out = [];
	for (let j = s.locs.length - 1; j >= 0; j--) {
		const loc = p.locations.get(s.locs[j]);
		if (loc === undefined) throw new Error(`pprof: a sample refers to location ${s.locs[j]}, which does not exist`);
		if (loc.lines.length === 0) {
			out.push('0x' + loc.address.toString(16));
			continue;
		}
		for (let l = loc.lines.length - 1; l >= 0; l--) {
			const fn = p.functions.get(loc.lines[l][0]);
			if (fn === undefined) throw new Error(`pprof: location ${loc.id} refers to function ${loc.lines[l][0]}, which does not exist`);
			out.push(str(p, fn.name, 'a function name') || str(p, fn.systemName, 'a function system name'));
		}
	}
	return out;
}

// Sample types of a parsed profile as [{type, unit}] strings.
export function sampleTypesOf(p) {
	return p.sampleTypes.map((vt) => ({ type: str(p, vt.type, 'a sample type'), unit: str(p, vt.unit, 'a sample unit') }));
}

// The profile's default sample type index: default_sample_type when it
// names one, else the last one (pprof's own rule).
export function defaultTypeIndex(p) {
	const types = sampleTypesOf(p);
	if (p.defaultType) {
		const name = str(p, p.defaultType, 'default_sample_type');
		const i = types.findIndex((t) => t.type === name);
		if (i >= 0) return i;
	}
	return types.length - 1;
}

// Flame graph data of sample type `ti`: {names, levels, numTicks, units}.
export function profileToGraph(p, ti) {
	const names = ['total'];
	const index = new Map([['total', 0]]);
	const root = trieNode(0);
	for (const s of p.samples) {
		if (s.values.some((v) => v < 0) || !s.values.some((v) => v !== 0)) continue;
		const v = s.values[ti] || 0;
		if (v === 0) continue;
		root.total += v;
		let n = root;
		for (const name of frames(p, s)) {
			let nm = index.get(name);
			if (nm === undefined) {
				nm = names.length;
				names.push(name);
				index.set(name, nm);
			}
			n = trieChild(n, nm);
			n.total += v;
		}
		n.self += v;
	}
	const t = sampleTypesOf(p)[ti];
	return { names, levels: trieToLevels(root, names), numTicks: root.total, units: t ? t.unit : '' };
}

// Protobuf writer for the export request (SelectMergeProfileRequest:
// profile_typeID 1, label_selector 2, start 3, end 4, all in ms).
function putVarint(out, v) {
	let n = BigInt.asUintN(64, BigInt(v));
	while (n >= 0x80n) {
		out.push(Number(n & 0x7fn) | 0x80);
		n >>= 7n;
	}
	out.push(Number(n));
}

export function encodeSelectMergeProfile(typeId, selector, startMs, endMs) {
	const out = [];
	const enc = new TextEncoder();
	for (const [f, s] of [[1, typeId], [2, selector]]) {
		const b = enc.encode(s);
		putVarint(out, (f << 3) | 2);
		putVarint(out, b.length);
		for (const x of b) out.push(x);
	}
	putVarint(out, (3 << 3) | 0);
	putVarint(out, startMs);
	putVarint(out, (4 << 3) | 0);
	putVarint(out, endMs);
	return new Uint8Array(out);
}
