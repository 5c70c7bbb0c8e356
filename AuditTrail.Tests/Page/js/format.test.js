// Unit tests of the page's pure formatting (AuditTrail.Functions/Page/assets/format.js), with
// Node's own test runner: scripts/test runs `node --test` over this folder with TZ=UTC.
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { counted, dayLabel, pretty, relativeParts, shownTime, sourceText, toIso, toLocalInput } from '../../../AuditTrail.Functions/Page/assets/format.js';

const zone = process.env.TZ;
// The page's formats are made as the module loads, in the zone of that moment: each test that
// moves the zone puts it back (an unset TZ must be deleted: assigning undefined sets "undefined").
afterEach(() => {
  if (zone === undefined) {
    delete process.env.TZ;
  } else {
    process.env.TZ = zone;
  }
});

describe('relativeParts', () => {
  const now = Date.parse('2026-03-10T12:00:00Z');
  const ago = (seconds) => relativeParts(new Date(now - seconds * 1000), now);

  test('counts in the largest unit reached, rounded', () => {
    assert.deepEqual(ago(3 * 3600), [-3, 'hour']);
    assert.deepEqual(ago(100 * 60), [-2, 'hour']);
    assert.deepEqual(ago(59 * 60), [-59, 'minute']);
    assert.deepEqual(ago(86400), [-1, 'day']);
    assert.deepEqual(ago(8 * 86400), [-1, 'week']);
    assert.deepEqual(ago(40 * 86400), [-1, 'month']);
    assert.deepEqual(ago(400 * 86400), [-1, 'year']);
  });

  test('under a minute is seconds, and the future is positive', () => {
    assert.deepEqual(ago(42), [-42, 'second']);
    assert.deepEqual(ago(0), [0, 'second']);
    assert.deepEqual(relativeParts(new Date(now + 2 * 3600_000), now), [2, 'hour']);
  });
});

describe('counted', () => {
  test('one, many, and the plural given', () => {
    assert.equal(counted(1, 'event'), '1 event');
    assert.equal(counted(0, 'event'), '0 events');
    assert.equal(counted(2, 'digest problem'), '2 digest problems');
    assert.equal(counted(3, 'entry', 'entries'), '3 entries');
  });

  test('large counts are grouped as the locale writes numbers', () => {
    assert.equal(counted(1234, 'event'), `${new Intl.NumberFormat().format(1234)} events`);
  });
});

describe('toIso and toLocalInput', () => {
  test('a datetime-local value is the viewer\'s local time', () => {
    process.env.TZ = 'UTC';
    assert.equal(toIso('2026-03-10T09:30'), '2026-03-10T09:30:00.000Z');
    process.env.TZ = 'Asia/Kolkata'; // +05:30, no daylight saving
    assert.equal(toIso('2026-03-10T09:30'), '2026-03-10T04:00:00.000Z');
    assert.equal(toLocalInput('2026-03-10T04:00:00.000Z'), '2026-03-10T09:30');
  });

  test('an instant comes back to the minute', () => {
    process.env.TZ = 'America/New_York';
    assert.equal(toLocalInput('2026-07-01T16:05:59Z'), '2026-07-01T12:05');
    assert.equal(toIso(toLocalInput('2026-07-01T16:05:59Z')), '2026-07-01T16:05:00.000Z');
  });

  test('what is not a time goes on as it is (the API refuses it by name), or is empty in the form', () => {
    assert.equal(toIso('yesterday'), 'yesterday');
    assert.equal(toLocalInput('yesterday'), '');
    assert.equal(toLocalInput(''), '');
  });
});

describe('shown times and days', () => {
  test('an instant is shown with the page\'s format; text that is no time as it is', () => {
    const format = new Intl.DateTimeFormat(undefined, {
      year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit', timeZoneName: 'short',
    });
    assert.equal(shownTime('2026-03-10T09:30:00Z'), format.format(new Date('2026-03-10T09:30:00Z')));
    assert.equal(shownTime('not a time'), 'not a time');
  });

  test('a chart day is the UTC day, whatever the viewer\'s zone', () => {
    assert.equal(dayLabel('2026-03-01'), new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeZone: 'UTC' }).format(Date.UTC(2026, 2, 1)));
  });
});

describe('sourceText and pretty', () => {
  test('each source says who recorded the event; an unknown one is shown as it is', () => {
    assert.equal(sourceText('trail'), 'trail (recorded by the audit trail itself)');
    assert.equal(sourceText('api'), 'api (posted to the HTTP API)');
    assert.equal(sourceText('hub'), 'hub (sent through Event Hubs)');
    assert.equal(sourceText('fax'), 'fax');
    assert.equal(sourceText(undefined), undefined);
  });

  test('JSON is indented; anything else is left as it came', () => {
    assert.equal(pretty('{"a":[1,2]}'), '{\n  "a": [\n    1,\n    2\n  ]\n}');
    assert.equal(pretty('<html>'), '<html>');
  });
});
