// @ts-check
// A search: the view read from the form, written to the address, then the panels loaded for it in
// turn (list, chart, integrity). A newer search aborts the one in progress.
import { session } from './api.js';
import { awaitActivity, loadActivity } from './activity.js';
import { renderChips } from './chips.js';
import { openEventById } from './details.js';
import { ui } from './dom.js';
import { cancelPendingApply, clearFieldErrors, markQuickRange, readView, showView, whenApplied } from './filters.js';
import { loadIntegrity } from './integrity.js';
import { clearTrail, loadFirstPage } from './trail.js';
import { current, viewFromHash, viewQuery, writeAddress } from './view.js';

/** The search in progress: the next one aborts it, so it loads no panel after its list. */
let searching = new AbortController();

/**
 * Searches the view the form shows.
 * @param {import('./filters.js').ApplyOptions} [options] rangeHours: the dates are that quick range
 */
export async function search({ rangeHours } = {}) {
  searching.abort();
  searching = new AbortController();
  const { signal } = searching;
  cancelPendingApply();
  clearFieldErrors();
  // Pressed only by the quick range that set the dates, so any other search releases it.
  markQuickRange(rangeHours ?? null);
  Object.assign(current, readView(), { event: current.event });
  const query = viewQuery(current);
  writeAddress();
  renderChips(current);
  clearTrail();
  ui.exportStatus.textContent = '';
  awaitActivity();
  await loadFirstPage(query, () => search());
  // The chart after the list: its counts read every day of the window, the list's first page
  // usually one, and the rows are what the owner came for (docs/performance.md, "Activity").
  if (signal.aborted || !session.caller) {
    return;
  }
  await loadActivity(query);
  // Verification reads every event received in the range: last, and only when the range changes.
  if (signal.aborted || !session.caller) {
    return;
  }
  await loadIntegrity(query);
}

whenApplied(search);

/** The view the address names: its filters, then its event (#event=<id>), if any. */
export async function fromAddress() {
  const view = viewFromHash(location.hash);
  showView(view);
  current.event = view.event;
  const searched = search();
  if (view.event) {
    await openEventById(view.event);
  }
  await searched;
}
