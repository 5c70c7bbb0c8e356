// @ts-check
// The view: what the page shows, as one object, and the address (#…) that says it whole, so a view
// can be bookmarked or shared. The token is never in it. Pure functions but for writeAddress.

/** The filters the API takes, in the order the query and the address write them. */
export const FILTERS = /** @type {const} */ (['productArea', 'actorType', 'actorId', 'resourceType', 'resourceId', 'start', 'end']);

/** @typedef {typeof FILTERS[number]} FilterName */

/**
 * The filters as the API takes them (start and end are instants), the chosen event types, and the
 * event whose details are open.
 * @typedef {Record<FilterName, string> & { types: string[], event: string | null }} View
 */

/** @returns {View} */
export function emptyView() {
  return {
    productArea: '', actorType: '', actorId: '', resourceType: '', resourceId: '', start: '', end: '', types: [], event: null,
  };
}

/**
 * The API's query for the view's events (the list, the chart and the export take the same).
 * @param {View} view
 */
export function viewQuery(view) {
  const params = new URLSearchParams();
  for (const name of FILTERS) {
    if (view[name]) {
      params.set(name, view[name]);
    }
  }
  if (view.types.length > 0) {
    params.set('type', view.types.join(','));
  }
  return params;
}

/**
 * The address's hash for the view: its query, then the open event.
 * @param {View} view
 */
export function viewHash(view) {
  const params = viewQuery(view);
  if (view.event) {
    params.set('event', view.event);
  }
  return params.toString();
}

/**
 * The view an address names (its hash, with or without the '#').
 * @param {string} hash
 * @returns {View}
 */
export function viewFromHash(hash) {
  const params = new URLSearchParams(hash.replace(/^#/, ''));
  const view = emptyView();
  for (const name of FILTERS) {
    view[name] = params.get(name) ?? '';
  }
  view.types = (params.get('type') ?? '').split(',').filter(Boolean);
  view.event = params.get('event') || null;
  return view;
}

/**
 * A quick range starts that long before now and stays open-ended, so new events keep showing.
 * @param {number} hours
 * @param {number} now milliseconds since the epoch
 */
export function quickRangeStart(hours, now) {
  return new Date(now - hours * 3600_000).toISOString();
}

/**
 * A day of the activity chart (a UTC day, '2026-03-01') as a range of instants.
 * @param {string} day
 */
export function dayRange(day) {
  const start = new Date(`${day}T00:00:00Z`);
  const end = new Date(start.getTime() + 86400_000);
  return { start: start.toISOString(), end: end.toISOString() };
}

/**
 * The part of a query that integrity verification reads: its range only (the other filters do not
 * change which events were received in it).
 * @param {URLSearchParams} query
 */
export function rangeQuery(query) {
  const range = new URLSearchParams();
  for (const name of ['start', 'end']) {
    const value = query.get(name);
    if (value) {
      range.set(name, value);
    }
  }
  return range;
}

/** The view on screen: its filters as last searched, and the open event. */
export const current = emptyView();

/** The address follows the view on screen without adding to the history. */
export function writeAddress() {
  const hash = viewHash(current);
  history.replaceState(null, '', hash ? `#${hash}` : location.pathname + location.search);
}
