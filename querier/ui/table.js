// Top table: self and total per function, sortable by clicking a header,
// filtered by a substring. Only the first 300 rows of the sorted, filtered
// list become DOM rows (the rest would slow the page and nobody scrolls
// past them; the filter reaches any function). onselect(name) fires when a
// row is clicked, again with '' when it is clicked a second time.

import { formatValue, formatPercent } from './format.js';
import { diffColor } from './flame.js';

const MAX_ROWS = 300;

export class TopTable {
	constructor(tbody, headers, filterInput) {
		this.tbody = tbody;
		this.rows = [];
		this.sortKey = 'self';
		this.filter = '';
		this.selected = '';
		this.onselect = null;
		for (const th of headers) {
			th.addEventListener('click', () => {
				this.sortKey = th.dataset.sort;
				for (const o of headers) o.classList.toggle('sorted', o === th);
				this.render();
			});
		}
		filterInput.addEventListener('input', () => {
			this.filter = filterInput.value.toLowerCase();
			this.render();
		});
	}

	set(rows, numTicks, units, selected = '') {
		this.rows = rows;
		this.numTicks = numTicks;
		this.units = units;
		this.selected = selected;
		this.render();
	}

	render() {
		const key = this.sortKey;
		let rows = this.rows;
		if (this.filter !== '') rows = rows.filter((r) => r.name.toLowerCase().includes(this.filter));
		rows = rows.slice().sort(key === 'name'
			? (a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
			: (a, b) => b[key] - a[key] || (a.name < b.name ? -1 : 1));
		const frag = document.createDocumentFragment();
		for (const r of rows.slice(0, MAX_ROWS)) {
			const tr = document.createElement('tr');
			if (r.name === this.selected) tr.className = 'selected';
			const name = document.createElement('td');
			name.textContent = r.name;
			name.title = r.name;
			tr.append(name, this.cell(r.self), this.cell(r.total));
			tr.addEventListener('click', () => {
				this.selected = this.selected === r.name ? '' : r.name;
				this.render();
				if (this.onselect) this.onselect(this.selected);
			});
			frag.append(tr);
		}
		this.tbody.replaceChildren(frag);
	}

	cell(v) {
		const td = document.createElement('td');
		td.className = 'num';
		td.textContent = `${formatValue(v, this.units)} (${formatPercent(v, this.numTicks)})`;
		return td;
	}
}

// The diff's regressions: per function its total on each side (share of
// that side's total) and the relative change of the share, biggest growth
// first (tree.js diffRows), the change cell coloured like the graph.
// onselect(name) as for TopTable.
export class DiffTable {
	constructor(tbody) {
		this.tbody = tbody;
		this.selected = '';
		this.onselect = null;
	}

	set(rows, leftTicks, rightTicks, units) {
		Object.assign(this, { rows, leftTicks, rightTicks, units, selected: '' });
		this.render();
	}

	render() {
		const frag = document.createDocumentFragment();
		for (const r of this.rows.slice(0, MAX_ROWS)) {
			const tr = document.createElement('tr');
			if (r.name === this.selected) tr.className = 'selected';
			const name = document.createElement('td');
			name.textContent = r.name;
			name.title = r.name;
			const l = document.createElement('td');
			l.className = 'num';
			l.textContent = `${formatValue(r.totalL, this.units)} (${formatPercent(r.totalL, this.leftTicks)})`;
			const rt = document.createElement('td');
			rt.className = 'num';
			rt.textContent = `${formatValue(r.totalR, this.units)} (${formatPercent(r.totalR, this.rightTicks)})`;
			const ch = document.createElement('td');
			ch.className = 'num change';
			ch.textContent = changeText(r.change);
			ch.style.background = diffColor(r.change);
			tr.append(name, l, rt, ch);
			tr.addEventListener('click', () => {
				this.selected = this.selected === r.name ? '' : r.name;
				this.render();
				if (this.onselect) this.onselect(this.selected);
			});
			frag.append(tr);
		}
		this.tbody.replaceChildren(frag);
	}
}

// +12.5% / -40.0% / new / gone.
export function changeText(c) {
	if (c === Infinity) return 'new';
	if (c === -1) return 'gone';
	return (c >= 0 ? '+' : '') + (100 * c).toFixed(1) + '%';
}
