// The UI's side of the HTTP APIs: requests with the tenant header, times
// as render reads them, and file downloads.
//
// The tenant (X-Scope-OrgID) is module state set by app.js from the URL;
// every request of the UI goes through request() so none can leave
// without it. A 401 that names X-Scope-OrgID (multi-tenancy on and no
// tenant given) raises TenantNeeded, for which app.js shows the tenant
// field.

let tenant = '';

export function setTenant(t) { tenant = t; }

export class TenantNeeded extends Error {}

function headers(extra) {
	const h = { ...extra };
	if (tenant !== '') h['X-Scope-OrgID'] = tenant;
	return h;
}

async function failure(path, r) {
	const text = await r.text();
	let msg = text;
	try { msg = JSON.parse(text).message || text; } catch (e) { /* not JSON */ }
	const E = r.status === 401 && /X-Scope-OrgID/.test(msg) ? TenantNeeded : Error;
	return new E(`${path}: ${r.status} ${msg}`);
}

export async function fetchJSON(path, params) {
	const p = new URLSearchParams();
	for (const [k, v] of Object.entries(params)) {
		if (Array.isArray(v)) for (const x of v) p.append(k, x);
		else if (v !== undefined && v !== '') p.set(k, v);
	}
	const r = await fetch(path + '?' + p.toString(), { headers: headers({ Accept: 'application/json' }) });
	if (!r.ok) throw await failure(path, r);
	return r.json();
}

// A Connect unary call with a binary protobuf body; the answer's bytes.
export async function connectProto(method, body) {
	const path = '/querier.v1.QuerierService/' + method;
	const r = await fetch(path, { method: 'POST', body,
		headers: headers({ 'Content-Type': 'application/proto' }) });
	if (!r.ok) throw await failure(path, r);
	return new Uint8Array(await r.arrayBuffer());
}

const UNIT_MS = { ms: 1, s: 1e3, m: 60e3, h: 3600e3, d: 86400e3, w: 604800e3, y: 31536000e3 };

// A time as render accepts it (render-http.md §2): `now`, `now-1h30m`,
// Unix seconds, milliseconds (13 digits), µs (16), ns (19), or YYYYMMDD
// (UTC midnight) → Unix ms; NaN when it is none of these.
export function parseTime(s, nowMs) {
	const t = s.trim();
	if (t === 'now' || t === '') return nowMs;
	const rel = /^now-((?:\d+(?:ms|s|m|h|d|w|y))+)$/.exec(t);
	if (rel) {
		let ms = 0;
		for (const [, n, u] of rel[1].matchAll(/(\d+)(ms|s|m|h|d|w|y)/g)) ms += Number(n) * UNIT_MS[u];
		return nowMs - ms;
	}
	if (/^\d{8}$/.test(t) && Number(t.slice(4, 6)) >= 1 && Number(t.slice(4, 6)) <= 12)
		return Date.UTC(Number(t.slice(0, 4)), Number(t.slice(4, 6)) - 1, Number(t.slice(6, 8)));
	if (/^\d+$/.test(t)) {
		const n = Number(t);
		if (t.length >= 19) return Math.floor(n / 1e6);
		if (t.length >= 16) return Math.floor(n / 1e3);
		if (t.length >= 13) return n;
		return n * 1000;
	}
	return NaN;
}

// Save bytes or text as a file the browser downloads.
export function download(data, name, type) {
	const blob = data instanceof Blob ? data : new Blob([data], { type });
	const a = document.createElement('a');
	a.href = URL.createObjectURL(blob);
	a.download = name;
	document.body.append(a);
	a.click();
	a.remove();
	setTimeout(() => URL.revokeObjectURL(a.href), 10000);
}
