// @ts-check
// The filters form: the catalog's areas and types, the type picker, and the form ↔ view. The
// form is where filters are edited; a search reads the view from it (readView).
import { api } from './api.js';
import { fields, text, ui } from './dom.js';
import { toIso, toLocalInput } from './format.js';
import { FILTERS, emptyView, quickRangeStart } from './view.js';

/** @typedef {import('./view.js').View} View */
/** @typedef {import('./view.js').FilterName} FilterName */
/** @typedef {{ id: string, type: string, name?: string | null }} Named an actor or a resource */
/** @typedef {{ rangeHours?: number }} ApplyOptions rangeHours: the quick range the dates are */

/** The chosen event types (none: every type). */
export const chosenTypes = new Set(/** @type {string[]} */ ([]));
/** 'actor:<id>' / 'resource:<type>:<id>' -> a display name seen in the trail, for the chips. */
export const names = new Map(/** @type {[string, string][]} */ ([]));

/** @type {(options?: ApplyOptions) => void} */
let apply = () => {};
let applyTimer = 0;

/**
 * What applies the filters (the search): set once at start-up, so this module needs not know it.
 * @param {(options?: ApplyOptions) => void} search
 */
export function whenApplied(search) {
  apply = search;
}

/** @param {ApplyOptions} [options] */
export function applyNow(options) {
  apply(options);
}

/** A text filter typed in is not applied again once a search has started. */
export function cancelPendingApply() {
  clearTimeout(applyTimer);
}

/** Typing in a text filter applies it once the typing pauses (Enter applies at once). */
function applySoon() {
  clearTimeout(applyTimer);
  applyTimer = setTimeout(() => apply(), 450);
}

/**
 * @param {FilterName} name
 * @param {string} value
 */
export function setField(name, value) {
  fields[name].value = value;
}

/** The view the form shows (the open event is not the form's). */
export function readView() {
  const view = emptyView();
  view.types = [...chosenTypes];
  for (const name of FILTERS) {
    const value = fields[name].value.trim();
    view[name] = (name === 'start' || name === 'end') && value ? toIso(value) : value;
  }
  return view;
}

/**
 * The form shows the view (an address followed).
 * @param {View} view
 */
export function showView(view) {
  for (const name of FILTERS) {
    const value = view[name];
    fields[name].value = name === 'start' || name === 'end' ? (value ? toLocalInput(value) : '') : value;
  }
  chosenTypes.clear();
  view.types.forEach((type) => chosenTypes.add(type));
  syncTypeBoxes();
  narrowTypes();
}

export function clearFieldErrors() {
  for (const element of ui.filters.querySelectorAll('[aria-invalid]')) {
    element.removeAttribute('aria-invalid');
  }
}

/** @param {Named} actor */
export function filterByActor(actor) {
  names.set(`actor:${actor.id}`, actor.name ?? actor.id);
  setField('actorId', actor.id);
  apply();
}

/** @param {Named} resource */
export function filterByResource(resource) {
  names.set(`resource:${resource.type}:${resource.id}`, resource.name ?? resource.id);
  setField('resourceType', resource.type);
  setField('resourceId', resource.id);
  apply();
}

/**
 * A quick range: from that long ago until now (open-ended, so new events keep showing).
 * @param {number} hours
 */
function quickRange(hours) {
  setField('start', toLocalInput(quickRangeStart(hours, Date.now())));
  setField('end', '');
  apply({ rangeHours: hours });
}

/**
 * Presses the quick range the dates are, if any.
 * @param {number | null} hours
 */
export function markQuickRange(hours) {
  for (const button of document.querySelectorAll('[data-range-hours]')) {
    if (button instanceof HTMLElement) {
      button.setAttribute('aria-pressed', String(Number(button.dataset.rangeHours) === hours));
    }
  }
}

// ---- The catalog and the type picker -------------------------------------------------------

/** @type {{ name: string, eventTypes: string[] }[]} */
let catalog = [];

/** The product areas and their event types, asked for once. */
export async function loadCatalog() {
  if (catalog.length > 0) {
    return;
  }
  const answer = await api('/api/event-types');
  catalog = answer.value;
  for (const area of catalog) {
    ui.productArea.append(new Option(area.name, area.name));
    if (area.eventTypes.length === 0) {
      continue; // an area the product names without events yet: nothing to choose
    }
    const group = document.createElement('fieldset');
    group.className = 'type-area';
    group.dataset.area = area.name;
    group.append(text('legend', area.name));
    for (const type of area.eventTypes) {
      const label = document.createElement('label');
      const box = document.createElement('input');
      box.type = 'checkbox';
      box.value = type;
      label.append(box, text('span', type));
      group.append(label);
    }
    ui.typeList.append(group);
  }
}

function typeBoxes() {
  return [...ui.typeList.querySelectorAll('input[type=checkbox]')].filter((box) => box instanceof HTMLInputElement);
}

function visibleTypeBoxes() {
  return typeBoxes().filter((box) => !box.closest('label')?.hidden && !box.closest('fieldset')?.hidden);
}

/** The area and the search narrow the type list; a type of another area is no longer chosen. */
export function narrowTypes() {
  const area = ui.productArea.value;
  const words = ui.typeSearch.value.toLowerCase().split(/\s+/).filter(Boolean);
  for (const group of ui.typeList.querySelectorAll('fieldset')) {
    const inArea = !area || group.dataset.area === area;
    let shown = 0;
    for (const label of group.querySelectorAll('label')) {
      const box = label.querySelector('input');
      if (!box) {
        continue;
      }
      if (!inArea && box.checked) {
        box.checked = false;
        chosenTypes.delete(box.value);
      }
      const haystack = `${box.value} ${group.dataset.area}`.toLowerCase();
      label.hidden = !inArea || !words.every((w) => haystack.includes(w));
      shown += label.hidden ? 0 : 1;
    }
    group.hidden = shown === 0;
  }
  ui.typeNone.hidden = visibleTypeBoxes().length > 0;
}

export function syncTypeBoxes() {
  for (const box of typeBoxes()) {
    box.checked = chosenTypes.has(box.value);
  }
}

// ---- Wiring ----------------------------------------------------------------------------------

ui.filters.addEventListener('submit', (e) => {
  e.preventDefault();
  apply();
});
ui.filters.addEventListener('reset', () => {
  // After the browser has cleared the fields.
  setTimeout(() => {
    chosenTypes.clear();
    ui.typeSearch.value = '';
    syncTypeBoxes();
    narrowTypes();
    apply();
  });
});
// Filters apply as they change: choices at once, typed text when the typing pauses.
ui.filters.addEventListener('change', (e) => {
  const target = e.target;
  if (target === ui.typeSearch) {
    return;
  }
  if (target instanceof HTMLInputElement && target.type === 'checkbox') {
    if (target.checked) {
      chosenTypes.add(target.value);
    } else {
      chosenTypes.delete(target.value);
    }
  }
  if (target === ui.productArea) {
    narrowTypes();
  }
  apply();
});
ui.filters.addEventListener('input', (e) => {
  if (e.target instanceof HTMLInputElement && e.target.type === 'text') {
    applySoon();
  }
});
ui.typeSearch.addEventListener('input', narrowTypes);
ui.typeSearch.addEventListener('keydown', (e) => {
  const boxes = visibleTypeBoxes();
  if (e.key === 'ArrowDown' && boxes.length > 0) {
    e.preventDefault();
    boxes[0].focus();
  } else if (e.key === 'Enter') {
    // Enter chooses the only match; with several, it stays here (and does not submit the form).
    e.preventDefault();
    if (boxes.length === 1) {
      boxes[0].click();
    }
  }
});
ui.typeList.addEventListener('keydown', (e) => {
  if (!(e.target instanceof HTMLInputElement)) {
    return;
  }
  const boxes = visibleTypeBoxes();
  const at = boxes.indexOf(e.target);
  if (e.key === 'ArrowDown' && at < boxes.length - 1) {
    e.preventDefault();
    boxes[at + 1].focus();
  } else if (e.key === 'ArrowUp') {
    e.preventDefault();
    (at > 0 ? boxes[at - 1] : ui.typeSearch).focus();
  } else if (e.key === 'Escape') {
    e.preventDefault();
    ui.typeSearch.focus();
  } else if (e.key === 'Enter') {
    e.preventDefault();
    e.target.click();
  }
});
for (const button of document.querySelectorAll('[data-range-hours]')) {
  if (button instanceof HTMLElement) {
    button.addEventListener('click', () => quickRange(Number(button.dataset.rangeHours)));
  }
}
ui.filtersToggle.addEventListener('click', () => {
  const open = ui.filtersToggle.getAttribute('aria-expanded') !== 'true';
  ui.filtersToggle.setAttribute('aria-expanded', String(open));
  ui.filters.classList.toggle('open', open);
  if (open) {
    /** @type {HTMLElement | null} */ (ui.filters.querySelector('input, select, button'))?.focus();
  }
});
ui.zoneHelp.textContent = `In your local time (${Intl.DateTimeFormat().resolvedOptions().timeZone}).`;
