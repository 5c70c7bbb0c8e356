// @ts-check
// The details panel: one event in a modal dialog, its changes, and its JSON as the API answers it.
import { ApiError, apiText, workspacePath } from './api.js';
import { cell, filterButton, text, ui } from './dom.js';
import { handleError, showNotice } from './errors.js';
import { filterByActor, filterByResource } from './filters.js';
import { pretty, relative, sourceText, timeFormat } from './format.js';
import { current, writeAddress } from './view.js';

/** @typedef {import('./trail.js').AuditEvent} AuditEvent */

/** That event exactly as GET …/audit-events/{id} answered (Copy JSON gives it), once known. */
let rawJson = /** @type {string | null} */ (null);
/** Where focus goes back when the dialog closes. */
let returnFocus = /** @type {HTMLElement | null} */ (null);
/** The open event's load: another event, or closing, aborts it. */
let loading = new AbortController();

/** @param {string} id */
function eventPath(id) {
  return workspacePath(`/audit-events/${encodeURIComponent(id)}`);
}

/** @param {string} id */
function eventLink(id) {
  return `${location.origin}${location.pathname}#event=${encodeURIComponent(id)}`;
}

/** @returns {AbortSignal} */
function restartLoading() {
  loading.abort();
  loading = new AbortController();
  return loading.signal;
}

/**
 * Opens the details of an event known only by its id (the address named it).
 * @param {string} id
 */
export async function openEventById(id) {
  const signal = restartLoading();
  try {
    const raw = await apiText(eventPath(id), { signal });
    if (!signal.aborted) {
      showDetails(JSON.parse(raw), null, raw);
    }
  } catch (error) {
    if (signal.aborted) {
      return;
    }
    current.event = null;
    writeAddress();
    if (error instanceof ApiError && error.status === 404) {
      showNotice('The link names an event this workspace does not have (or no longer has: the trail keeps 90 days).');
    } else {
      handleError(error, () => openEventById(id));
    }
  }
}

/**
 * @param {DocumentFragment} list
 * @param {string} name
 * @param {string | null | undefined} value
 * @param {...(Node | string)} extra
 */
function addField(list, name, value, ...extra) {
  if (value === undefined || value === null || value === '') {
    return;
  }
  const dd = text('dd', value);
  if (extra.length > 0) {
    dd.append(' ', ...extra);
  }
  list.append(text('dt', name), dd);
}

/** @param {unknown} value */
function showValue(value) {
  if (value === undefined) {
    return text('span', 'not set', 'absent');
  }
  return text('pre', typeof value === 'string' ? value : JSON.stringify(value, null, 2));
}

/**
 * The event's fields; the actor and the resource each with a button to narrow the view to them.
 * @param {AuditEvent} event
 */
function fieldList(event) {
  const fields = document.createDocumentFragment();
  const at = new Date(event.timestamp);
  addField(fields, 'Time', Number.isNaN(at.getTime()) ? event.timestamp : `${timeFormat.format(at)}, ${relative(at)} (${event.timestamp})`);
  addField(fields, 'Product area', event.productArea);
  addField(fields, 'Event id', event.id);
  addField(fields, 'Source', sourceText(event.source));
  /** @param {() => void} action */
  const closeAnd = (action) => () => {
    ui.details.close();
    action();
  };
  const { actor, resource } = event;
  addField(fields, 'Actor', `${actor.name ? `${actor.name} ` : ''}(${actor.type} ${actor.id})`,
    filterButton('actor', actor.name ?? actor.id, closeAnd(() => filterByActor(actor)), 'Show only this actor'));
  addField(fields, 'Actor email', actor.email);
  addField(fields, 'Resource', `${resource.name ? `${resource.name} ` : ''}(${resource.type} ${resource.id})`,
    filterButton('resource', resource.name ?? resource.id, closeAnd(() => filterByResource(resource)), 'Show only this resource'));
  addField(fields, 'IP address', event.context?.ip);
  addField(fields, 'User agent', event.context?.userAgent);
  addField(fields, 'Request id', event.context?.requestId);
  if (event.properties !== undefined) {
    addField(fields, 'Properties', JSON.stringify(event.properties, null, 2));
  }
  return fields;
}

/**
 * Each change's field, before and after; a `changes` that is not a list is shown as one value.
 * @param {AuditEvent} event
 */
function changeRows(event) {
  const changes = Array.isArray(event.changes) ? event.changes : event.changes === undefined ? [] : [{ field: '(changes)', after: event.changes }];
  return changes.map((change) => {
    const row = document.createElement('tr');
    const isChange = change !== null && typeof change === 'object' && !Array.isArray(change);
    row.append(
      cell(text('span', isChange && typeof change.field === 'string' ? change.field : '(unnamed)')),
      cell(isChange ? showValue(change.before) : showValue(undefined)),
      cell(isChange ? showValue(change.after) : showValue(change)));
    return row;
  });
}

/**
 * Opens the dialog on an event.
 * @param {AuditEvent} event
 * @param {HTMLElement | null} opener where focus goes back (none: the results)
 * @param {string} [raw] the event as the one-event route answered, if that is where it came from
 */
export function showDetails(event, opener, raw) {
  ui.detailsTitle.textContent = event.type;
  ui.detailsFields.replaceChildren(fieldList(event));
  const rows = changeRows(event);
  ui.detailsChanges.tBodies[0].replaceChildren(...rows);
  ui.detailsChanges.hidden = rows.length === 0;
  ui.detailsNoChanges.hidden = rows.length > 0;
  ui.copyStatus.textContent = '';
  ui.detailsError.hidden = true;
  current.event = event.id;
  writeAddress();
  showRaw(event.id, raw);
  // Opened from a link there is no opener: focus goes back to the results.
  returnFocus = opener ?? ui.results;
  if (!ui.details.open) {
    ui.details.showModal();
  }
  ui.detailsClose.focus();
}

/**
 * The raw view and Copy JSON show the event as the one-event route answers, fetched if not given.
 * @param {string} id
 * @param {string} [raw]
 */
async function showRaw(id, raw) {
  const signal = restartLoading();
  rawJson = raw ?? null;
  ui.copyJson.disabled = raw === undefined;
  ui.detailsRaw.textContent = raw === undefined ? 'Loading…' : pretty(raw);
  if (raw !== undefined) {
    return;
  }
  try {
    const answer = await apiText(eventPath(id), { signal });
    if (!signal.aborted) {
      rawJson = answer;
      ui.detailsRaw.textContent = pretty(answer);
      ui.copyJson.disabled = false;
    }
  } catch (error) {
    if (!signal.aborted) {
      ui.detailsRaw.textContent = '';
      ui.detailsError.textContent = `The event's JSON could not be loaded: ${error instanceof Error ? error.message : error}`;
      ui.detailsError.hidden = false;
    }
  }
}

/**
 * @param {string} value
 * @param {string} what
 */
async function copyText(value, what) {
  let copied = false;
  try {
    await navigator.clipboard.writeText(value);
    copied = true;
  } catch {
    // No clipboard permission (or not a secure context): the old way, from a selected text area
    // inside the dialog (a modal dialog makes the rest of the page inert).
    const area = document.createElement('textarea');
    area.value = value;
    area.readOnly = true;
    area.className = 'copy-buffer';
    ui.details.append(area);
    area.select();
    copied = document.execCommand('copy');
    area.remove();
  }
  ui.copyStatus.textContent = copied ? `${what} copied.` : `Could not copy: select the text and copy it yourself.`;
}

ui.detailsClose.addEventListener('click', () => ui.details.close());
ui.details.addEventListener('close', () => {
  loading.abort();
  current.event = null;
  rawJson = null;
  writeAddress();
  returnFocus?.focus();
});
ui.details.addEventListener('click', (e) => {
  if (e.target === ui.details) {
    ui.details.close(); // a click on the backdrop
  }
});
ui.copyLink.addEventListener('click', () => {
  if (current.event) {
    copyText(eventLink(current.event), 'Link');
  }
});
ui.copyJson.addEventListener('click', () => {
  if (rawJson !== null) {
    copyText(rawJson, 'JSON');
  }
});
