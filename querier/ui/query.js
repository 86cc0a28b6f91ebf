// Selector text edits: `TYPE{matchers}` split into its parts, and the
// matcher rewrites the pickers and the label explorer make. Matchers
// other than the one rewritten are kept as typed.

export function splitQuery(q) {
	const b = q.indexOf('{');
	if (b < 0) return { type: q.trim(), matchers: '' };
	const e = q.lastIndexOf('}');
	return { type: q.slice(0, b).trim(), matchers: q.slice(b + 1, e < 0 ? q.length : e).trim() };
}

const STR = '"(?:[^"\\\\]|\\\\.)*"';

function escapeRe(s) {
	return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export function quote(v) {
	return '"' + v.replace(/\\/g, '\\\\').replace(/"/g, '\\"') + '"';
}

function unquote(s) {
	return s.slice(1, -1).replace(/\\(.)/g, '$1');
}

export function serviceOf(q) {
	const m = new RegExp(`(?:^|,)\\s*service_name\\s*=\\s*(${STR})`).exec(splitQuery(q).matchers);
	return m ? unquote(m[1]) : '';
}

// The matchers of a selector body, split at commas outside quotes.
export function splitMatchers(body) {
	const out = [];
	let cur = '', inQ = '';
	for (let i = 0; i < body.length; i++) {
		const c = body[i];
		if (inQ !== '') {
			if (c === '\\' && inQ !== '`' && i + 1 < body.length) cur += c + body[++i];
			else {
				if (c === inQ) inQ = '';
				cur += c;
			}
		} else if (c === ',') {
			out.push(cur.trim());
			cur = '';
		} else {
			if (c === '"' || c === "'" || c === '`') inQ = c;
			cur += c;
		}
	}
	out.push(cur.trim());
	return out.filter((m) => m !== '');
}

// q with its matcher(s) of `label` replaced by label="value" (first), or
// removed when value is null.
export function withMatcher(q, label, value) {
	const { type, matchers } = splitQuery(q);
	const re = new RegExp(`^["']?${escapeRe(label)}["']?\\s*(?:=~|!~|!=|=)`);
	let ms = splitMatchers(matchers).filter((m) => !re.test(m));
	if (value !== null) ms = [`${label}=${quote(value)}`, ...ms];
	return `${type}{${ms.join(', ')}}`;
}

export function withService(q, svc) {
	return withMatcher(q, 'service_name', svc === '' ? null : svc);
}

export function withType(q, type) {
	return `${type}{${splitQuery(q).matchers}}`;
}
