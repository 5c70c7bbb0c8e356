// @ts-check
// The list panel: the view's events, newest first, a page at a time.
import { api, workspacePath } from './api.js';
import { showDetails } from './details.js';
import { cell, filterButton, text, ui } from './dom.js';
import { handleError, hideError } from './errors.js';
import { filterByActor, filterByResource } from './filters.js';
import { timeFormat } from './format.js';
import { timeElement } from './time.js';

/**
 * An event as the API answers it (only what the page reads).
 * @typedef {{ id: string, type: string, name?: string | null, email?: string | null }} Actor
 * @typedef {{ id: string, type: string, name?: string | null }} Resource
 * @typedef {object} AuditEvent
 * @property {string} id
 * @property {string} type
 * @property {string} productArea
 * @property {string} timestamp
 * @property {string} [source]
 * @property {Actor} actor
 * @property {Resource} resource
 * @property {{ ip?: string, userAgent?: string, requestId?: string }} [context]
 * @property {unknown} [properties]
 * @property {unknown} [changes]
 */

const PAGE_SIZE = 50;

let shown = 0;
/** @type {string | null} */
let nextLink = null;
/** The page being loaded: a new search, or another page, aborts it. */
let loading = new AbortController();

/**
 * Empties the list for a new search. What described the previous results goes with them: if this
 * search fails or is refused, "Load older events" would page the old query and "No events match"
 * would speak of it.
 */
export function clearTrail() {
  loading.abort();
  shown = 0;
  nextLink = null;
  ui.rows.replaceChildren();
  ui.loadMore.hidden = true;
  ui.empty.hidden = true;
}

/**
 * The first page of the view's events.
 * @param {URLSearchParams} query the view's
 * @param {() => void} again what Try again does
 */
export function loadFirstPage(query, again) {
  const params = new URLSearchParams(query);
  params.set('limit', String(PAGE_SIZE));
  return loadPage(workspacePath(`/audit-events?${params}`), again);
}

export async function loadMore() {
  if (nextLink) {
    await loadPage(nextLink, loadMore);
  }
}

/**
 * @param {string} url
 * @param {() => void} again
 */
async function loadPage(url, again) {
  loading.abort();
  loading = new AbortController();
  const { signal } = loading;
  hideError();
  ui.results.setAttribute('aria-busy', 'true');
  ui.loadMore.disabled = true;
  ui.summary.textContent = shown === 0 ? 'Loading…' : `Showing ${shown} events. Loading older events…`;
  try {
    const page = await api(url, { signal });
    if (signal.aborted) {
      return;
    }
    nextLink = typeof page.nextLink === 'string' && page.nextLink.startsWith('/api/') ? page.nextLink : null;
    /** @type {AuditEvent[]} */
    const events = page.value;
    ui.rows.append(...events.map((event, i) => eventRow(event, shown + i)));
    shown += events.length;
    renderSummary();
  } catch (error) {
    if (!signal.aborted) {
      handleError(error, again);
    }
  } finally {
    if (!signal.aborted) {
      ui.results.removeAttribute('aria-busy');
      ui.loadMore.disabled = false;
    }
  }
}

function renderSummary() {
  ui.empty.hidden = shown > 0;
  ui.table.hidden = shown === 0;
  ui.loadMore.hidden = !nextLink;
  ui.summary.textContent = shown === 0
    ? ''
    : `Showing ${shown} event${shown === 1 ? '' : 's'}, newest first${nextLink ? '; older events are available' : ''}.`;
}

/**
 * A cell of the trail: one block of content, named for the stacked layout of narrow windows.
 * @param {string} label
 * @param {...(Node | string)} children
 */
function labelledCell(label, ...children) {
  const block = document.createElement('div');
  block.append(...children);
  const td = cell(block);
  td.dataset.label = label;
  return td;
}

/**
 * @param {AuditEvent} event
 * @param {number} index
 */
function eventRow(event, index) {
  const row = document.createElement('tr');
  row.dataset.index = String(index);
  const button = text('button', 'Details', 'secondary');
  button.type = 'button';
  const at = new Date(event.timestamp);
  button.setAttribute('aria-label', `Details of ${event.type} at ${Number.isNaN(at.getTime()) ? event.timestamp : timeFormat.format(at)}`);
  button.addEventListener('click', () => showDetails(event, button));
  row.addEventListener('click', (e) => {
    const target = e.target instanceof Element ? e.target : null;
    if (!target?.closest('button, time') && !window.getSelection()?.toString()) {
      showDetails(event, button);
    }
  });
  const { actor, resource } = event;
  row.append(
    labelledCell('Time', timeElement(event.timestamp)),
    labelledCell('Event', text('span', event.type, 'type'), text('span', event.productArea, 'area')),
    labelledCell('Actor', filterButton('actor', actor.name ?? actor.id, () => filterByActor(actor)),
      text('span', `${actor.type} · ${actor.id}`, 'sub')),
    labelledCell('Resource', filterButton('resource', resource.name ?? resource.id, () => filterByResource(resource)),
      text('span', `${resource.type} · ${resource.id}`, 'sub')),
    labelledCell('', button));
  return row;
}

ui.loadMore.addEventListener('click', loadMore);
