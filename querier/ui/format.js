// Value formatting by the profile's unit (metadata.units of render).

const BYTE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

// v in the profile's unit → short human text: nanoseconds as ns/µs/ms/s,
// bytes as B/KiB/MiB/GiB, counts with k/M suffixes.
export function formatValue(v, units) {
	if (units === 'nanoseconds') {
		const a = Math.abs(v);
		if (a >= 1e9) return trim(v / 1e9) + ' s';
		if (a >= 1e6) return trim(v / 1e6) + ' ms';
		if (a >= 1e3) return trim(v / 1e3) + ' µs';
		return trim(v) + ' ns';
	}
	if (units === 'bytes') {
		let i = 0;
		while (Math.abs(v) >= 1024 && i < BYTE_UNITS.length - 1) {
			v /= 1024;
			i++;
		}
		return trim(v) + ' ' + BYTE_UNITS[i];
	}
	const a = Math.abs(v);
	const suffix = units === 'samples' ? ' samples' : units === 'objects' ? ' objects' : '';
	if (a >= 1e9) return trim(v / 1e9) + 'G' + suffix;
	if (a >= 1e6) return trim(v / 1e6) + 'M' + suffix;
	if (a >= 1e4) return trim(v / 1e3) + 'k' + suffix;
	return trim(v) + suffix;
}

function trim(x) {
	if (Number.isInteger(x)) return String(x);
	return x.toFixed(Math.abs(x) >= 100 ? 0 : Math.abs(x) >= 10 ? 1 : 2);
}

export function formatPercent(part, whole) {
	if (!whole) return '0%';
	const p = (100 * part) / whole;
	return (p >= 10 ? p.toFixed(1) : p.toFixed(2)) + '%';
}

// The unit of a profile type ID name:sample_type:sample_unit:period_type:period_unit
// (the flame graph takes metadata.units from the server instead).
export function unitOfType(id) {
	const parts = id.split(':');
	return parts.length >= 3 ? parts[2] : '';
}
