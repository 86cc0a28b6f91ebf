// Selector autocomplete: a list under a selector input that offers what
// fits at the cursor — profile types before `{`, label names at the start
// of a matcher, and the label's values after `name=` (also `!=`, `=~`,
// `!~`). Values are fetched per label when first needed (the source
// decides from where; app.js asks label-values for the current type).
// Keys: ↓/↑ move, Enter or Tab take the suggestion, Escape closes.

// What the text before the cursor is in the middle of:
//   {kind: 'type', prefix, start} | {kind: 'name', prefix, start} |
//   {kind: 'value', label, prefix, start}
// start = where the completed token begins. Quotes are honoured, so a
// comma inside a value does not start a new matcher.
export function completionContext(before) {
	let brace = -1, segStart = -1, inQ = '';
	for (let i = 0; i < before.length; i++) {
		const c = before[i];
		if (inQ !== '') {
			if (c === '\\' && inQ !== '`') i++;
			else if (c === inQ) inQ = '';
		} else if (c === '"' || c === "'" || c === '`') inQ = c;
		else if (c === '{') { brace = i; segStart = i + 1; }
		else if (c === ',' && brace >= 0) segStart = i + 1;
		else if (c === '}') brace = -1;
	}
	if (brace < 0 && before.indexOf('{') < 0) return { kind: 'type', prefix: before.trim(), start: before.length - before.trimStart().length };
	if (brace < 0) return null; // after the closing brace
	const seg = before.slice(segStart);
	const m = /^(\s*)([A-Za-z_][A-Za-z0-9_.]*)\s*(=~|!~|!=|=)\s*(["'`]?)(.*)$/s.exec(seg);
	if (m) {
		if (m[4] !== '' && m[5].endsWith(m[4]) && m[5].length > 0) return null; // value closed
		const start = before.length - m[5].length;
		return { kind: 'value', label: m[2], prefix: m[5], start, quote: m[4] };
	}
	const n = /^(\s*)([A-Za-z0-9_.]*)$/.exec(seg);
	if (n) return { kind: 'name', prefix: n[2], start: before.length - n[2].length };
	return null;
}

export class Autocomplete {
	// source: {types(): Promise<string[]>, names(): Promise<string[]>,
	// values(label): Promise<string[]>}.
	constructor(input, list, source) {
		this.input = input;
		this.list = list;
		this.source = source;
		this.items = [];
		this.active = -1;
		this.seq = 0;
		input.addEventListener('input', () => this.update());
		input.addEventListener('focus', () => this.update());
		input.addEventListener('blur', () => setTimeout(() => this.close(), 150));
		input.addEventListener('keydown', (e) => this.key(e));
	}

	async update() {
		const seq = ++this.seq;
		const pos = this.input.selectionStart ?? this.input.value.length;
		const ctx = completionContext(this.input.value.slice(0, pos));
		if (ctx === null) return this.close();
		let options;
		try {
			if (ctx.kind === 'type') options = await this.source.types();
			else if (ctx.kind === 'name') options = await this.source.names();
			else options = await this.source.values(ctx.label);
		} catch (e) {
			return this.close(); // the page's own load shows the API error
		}
		if (seq !== this.seq) return;
		const p = ctx.prefix.toLowerCase();
		const hits = options.filter((o) => o.toLowerCase().includes(p) && o !== ctx.prefix).slice(0, 50);
		hits.sort((a, b) => a.toLowerCase().startsWith(p) === b.toLowerCase().startsWith(p) ? 0 : a.toLowerCase().startsWith(p) ? -1 : 1);
		this.ctx = ctx;
		this.show(hits);
	}

	show(items) {
		this.items = items;
		this.active = items.length > 0 ? 0 : -1;
		this.list.replaceChildren(...items.map((it, j) => {
			const li = document.createElement('li');
			li.textContent = it;
			li.addEventListener('mousedown', (e) => {
				e.preventDefault(); // keep the input's focus
				this.take(j);
			});
			return li;
		}));
		this.list.hidden = items.length === 0;
		this.mark();
	}

	mark() {
		[...this.list.children].forEach((li, j) => li.classList.toggle('active', j === this.active));
	}

	close() {
		this.items = [];
		this.active = -1;
		this.list.hidden = true;
	}

	key(e) {
		if (this.list.hidden || this.items.length === 0) return;
		if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
			e.preventDefault();
			const n = this.items.length;
			this.active = (this.active + (e.key === 'ArrowDown' ? 1 : n - 1)) % n;
			this.mark();
		} else if (e.key === 'Enter' || e.key === 'Tab') {
			e.preventDefault();
			this.take(this.active);
		} else if (e.key === 'Escape') this.close();
	}

	// Replace the token at the cursor by item j (plus what makes the
	// selector go on: `{` after a type, `="` after a name, the closing
	// quote after a value).
	take(j) {
		const ctx = this.ctx, it = this.items[j];
		const v = this.input.value, pos = this.input.selectionStart ?? v.length;
		let ins;
		if (ctx.kind === 'type') ins = it + (v.slice(pos).startsWith('{') ? '' : '{');
		else if (ctx.kind === 'name') ins = it + '="';
		else {
			const q = ctx.quote || '"';
			const esc = q === '`' ? it : it.replace(/\\/g, '\\\\').replace(new RegExp(q, 'g'), '\\' + q);
			ins = (ctx.quote ? '' : q) + esc + q;
		}
		const after = v.slice(pos);
		this.input.value = v.slice(0, ctx.start) + ins + (ctx.kind === 'type' && after === '' ? '}' : after);
		const c = ctx.start + ins.length;
		this.input.setSelectionRange(c, c);
		this.close();
		this.update();
	}
}
