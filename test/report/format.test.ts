import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatMs, formatNumber, formatParams, formatRatio, formatWhen } from '../../lab/report/format.js';

describe('formatMs', () => {
  it('examples from the brief', () => {
    assert.equal(formatMs(1234), '1.23 s');
    assert.equal(formatMs(345), '345 ms');
    assert.equal(formatMs(0.18), '0.18 ms');
  });
  it('three significant figures and unit boundaries', () => {
    assert.equal(formatMs(34.56), '34.6 ms');
    assert.equal(formatMs(3.456), '3.46 ms');
    assert.equal(formatMs(1), '1.00 ms');
    assert.equal(formatMs(99.96), '100 ms');
    assert.equal(formatMs(999.6), '1.00 s');
    assert.equal(formatMs(12_345), '12.3 s');
    assert.equal(formatMs(123_456), '123 s');
    assert.equal(formatMs(0.0042), '4.20 µs');
    assert.equal(formatMs(0), '0 ms');
  });
  it('nonsense in, dash out', () => {
    assert.equal(formatMs(Number.NaN), '—');
    assert.equal(formatMs(-1), '—');
    assert.equal(formatMs(undefined), '—');
    assert.equal(formatMs(Infinity), '—');
  });
});

describe('other formatters', () => {
  it('formatRatio', () => {
    assert.equal(formatRatio(2.3456), '2.35×');
    assert.equal(formatRatio(12.34), '12.3×');
    assert.equal(formatRatio(150), '150×');
    assert.equal(formatRatio(Infinity), '∞×');
    assert.equal(formatRatio(Number.NaN), '—');
  });
  it('formatNumber (machine output)', () => {
    assert.equal(formatNumber(1.5811388300841898), '1.581139');
    assert.equal(formatNumber(100), '100');
    assert.equal(formatNumber(0.1 + 0.2), '0.3');
    assert.equal(formatNumber(undefined), '');
    assert.equal(formatNumber(-0.0000001), '0');
  });
  it('formatParams', () => {
    assert.equal(formatParams({ n: 4, size: 100000 }), 'n=4 size=100000');
    assert.equal(formatParams({ currencies: ['USD', 'EUR'], deep: { a: 1 } }), 'currencies=USD,EUR deep={"a":1}');
    assert.equal(formatParams({}), '');
    assert.equal(formatParams({ s: 'x'.repeat(100) }, 10), 's=xxxxxxx…');
  });
  it('formatWhen is UTC and clock-free', () => {
    assert.equal(formatWhen('2026-11-20T10:00:59.999Z'), '2026-11-20 10:00Z');
    assert.equal(formatWhen('2026-11-20T12:00:00+02:00'), '2026-11-20 10:00Z');
    assert.equal(formatWhen('yesterday'), 'yesterday');
  });
});
