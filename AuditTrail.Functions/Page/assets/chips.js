// @ts-check
// The active filters, one chip each, under the results' heading; × removes one.
import { text, ui } from './dom.js';
import { shownTime } from './format.js';
import { applyNow, chosenTypes, names, narrowTypes, setField, syncTypeBoxes } from './filters.js';

/** @typedef {import('./view.js').View} View */

/**
 * @param {string} label
 * @param {string} value
 * @param {() => void} remove
 */
function chip(label, value, remove) {
  const item = document.createElement('li');
  item.className = 'chip';
  const button = text('button', '×', 'chip-remove');
  button.type = 'button';
  button.setAttribute('aria-label', `Remove filter ${label} ${value}`);
  button.addEventListener('click', () => {
    remove();
    applyNow();
    // The chip is gone: keep the keyboard in the region rather than at the top of the page.
    (ui.chips.querySelector('button') ?? ui.results).focus();
  });
  item.append(text('span', label, 'chip-label'), text('span', value, 'chip-value'), button);
  return item;
}

/**
 * A name seen in the trail, with the id it stands for.
 * @param {string} key
 * @param {string} id
 * @param {string} shown
 */
function named(key, id, shown) {
  const name = names.get(key);
  return name && name !== id ? `${name} (${shown})` : shown;
}

/**
 * The chips of the view being searched.
 * @param {View} view
 */
export function renderChips(view) {
  const chips = [];
  if (view.start) {
    chips.push(chip('From', shownTime(view.start), () => setField('start', '')));
  }
  if (view.end) {
    chips.push(chip('Until', shownTime(view.end), () => setField('end', '')));
  }
  if (view.productArea) {
    chips.push(chip('Area', view.productArea, () => { setField('productArea', ''); narrowTypes(); }));
  }
  for (const type of view.types) {
    chips.push(chip('Type', type, () => { chosenTypes.delete(type); syncTypeBoxes(); }));
  }
  if (view.actorType) {
    chips.push(chip('Actor kind', view.actorType, () => setField('actorType', '')));
  }
  if (view.actorId) {
    chips.push(chip('Actor', named(`actor:${view.actorId}`, view.actorId, view.actorId), () => setField('actorId', '')));
  }
  if (view.resourceType || view.resourceId) {
    const shown = [view.resourceType, view.resourceId].filter(Boolean).join(' ');
    chips.push(chip('Resource', named(`resource:${view.resourceType}:${view.resourceId}`, view.resourceId, shown), () => {
      setField('resourceType', '');
      setField('resourceId', '');
    }));
  }
  ui.chips.replaceChildren(...chips);
  ui.noFilters.hidden = chips.length > 0;
}
