// Top table: self and total per function, sortable by clicking a header,
// filtered by a substring. Only the first 300 rows of the sorted, filtered
// list become DOM rows (the rest would slow the page and nobody scrolls
// past them; the filter reaches any function). onselect(name) fires when a
// row is clicked, again with '' when it is clicked a second time.

import { formatValue, formatPercent } from './format.js';

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

	set(rows, numTicks, units) {
		this.rows = rows;
		this.numTicks = numTicks;
		this.units = units;
		this.selected = '';
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
