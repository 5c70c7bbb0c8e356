// Unit tests of the view ↔ address and the ranges (AuditTrail.Functions/Page/assets/view.js).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { dayRange, emptyView, quickRangeStart, rangeQuery, viewFromHash, viewHash, viewQuery } from '../../../AuditTrail.Functions/Page/assets/view.js';

describe('view ↔ query and address', () => {
  test('an empty view is every event: no query, no address', () => {
    assert.equal(viewQuery(emptyView()).toString(), '');
    assert.equal(viewHash(emptyView()), '');
  });

  test('the query holds the set filters in the API\'s order, then the types', () => {
    const view = { ...emptyView(), end: '2026-03-10T00:00:00.000Z', actorId: 'usr_bob', productArea: 'Warehouses', types: ['Warehouses Modified', 'Warehouses Created'] };
    assert.equal(viewQuery(view).toString(),
      'productArea=Warehouses&actorId=usr_bob&end=2026-03-10T00%3A00%3A00.000Z&type=Warehouses+Modified%2CWarehouses+Created');
  });

  test('the open event goes to the address, never to the API\'s query', () => {
    const view = { ...emptyView(), actorId: 'usr_bob', event: 'evt a&b#1/ü' };
    assert.equal(viewQuery(view).toString(), 'actorId=usr_bob');
    assert.equal(viewHash(view), 'actorId=usr_bob&event=evt+a%26b%231%2F%C3%BC');
  });

  test('an address comes back as the view that wrote it', () => {
    const view = {
      productArea: 'Source', actorType: 'user', actorId: 'usr_ada', resourceType: 'source', resourceId: 'src_web',
      start: '2026-03-01T00:00:00.000Z', end: '2026-03-02T00:00:00.000Z', types: ['Source Modified'], event: 'evt_1',
    };
    assert.deepEqual(viewFromHash(`#${viewHash(view)}`), view);
    assert.deepEqual(viewFromHash(viewHash(view)), view);
  });

  test('an address with nothing, unknown names or an empty event is the empty view', () => {
    assert.deepEqual(viewFromHash(''), emptyView());
    assert.deepEqual(viewFromHash('#token=secret&event='), emptyView());
    assert.deepEqual(viewFromHash('#type=,A,,B').types, ['A', 'B']);
  });
});

describe('ranges', () => {
  test('a quick range starts that many hours before now', () => {
    const now = Date.parse('2026-03-10T12:34:56.789Z');
    assert.equal(quickRangeStart(24, now), '2026-03-09T12:34:56.789Z');
    assert.equal(quickRangeStart(2160, now), '2025-12-10T12:34:56.789Z');
  });

  test('a chart day is that UTC day, midnight to midnight', () => {
    assert.deepEqual(dayRange('2026-03-01'), { start: '2026-03-01T00:00:00.000Z', end: '2026-03-02T00:00:00.000Z' });
    assert.deepEqual(dayRange('2026-12-31'), { start: '2026-12-31T00:00:00.000Z', end: '2027-01-01T00:00:00.000Z' });
  });

  test('integrity reads only the range of a query', () => {
    const query = new URLSearchParams('productArea=Source&start=a&actorId=usr_bob&end=b&type=X');
    assert.equal(rangeQuery(query).toString(), 'start=a&end=b');
    assert.equal(rangeQuery(new URLSearchParams('actorId=usr_bob')).toString(), '');
  });
});
