// @ts-check
// The page's elements, found once, and the few builders every panel uses. Everything a producer
// wrote (names, ids, change values) is hostile: it reaches the page only through textContent and
// attribute setters, never as markup.

/**
 * The element with this id, of this kind (a page that lost one fails here, by name).
 * @template {Element} T
 * @param {string} id
 * @param {{ new (): T, prototype: T }} type
 * @returns {T}
 */
function $(id, type) {
  const element = document.getElementById(id);
  if (!(element instanceof type)) {
    throw new Error(`The page has no ${type.name} #${id}.`);
  }
  return element;
}

const H = HTMLElement;
const Input = HTMLInputElement;
const Select = HTMLSelectElement;
const Button = HTMLButtonElement;

export const ui = {
  signIn: $('sign-in', H), signInForm: $('sign-in-form', HTMLFormElement), signInMessage: $('sign-in-message', H),
  token: $('token', Input), signInButton: $('sign-in-button', Button), signOut: $('sign-out', Button),
  who: $('who', H), whoWorkspace: $('who-workspace', H), whoToken: $('who-token', H),
  trail: $('trail', H), filtersToggle: $('filters-toggle', Button), filters: $('filters', HTMLFormElement),
  zoneHelp: $('zone-help', H), productArea: $('productArea', Select),
  typeSearch: $('type-search', Input), typeList: $('type-list', H), typeNone: $('type-none', H),
  results: $('results', H), refresh: $('refresh', Button), exportButton: $('export', Button),
  chips: $('chips', H), noFilters: $('no-filters', H),
  activity: $('activity', H), integrity: $('integrity', H), integrityText: $('integrity-text', H),
  integrityFindings: $('integrity-findings', H), exportStatus: $('export-status', H),
  error: $('error', H), errorText: $('error-text', H), retry: $('retry', Button),
  summary: $('summary', H), table: $('events', HTMLTableElement), rows: $('event-rows', HTMLTableSectionElement),
  empty: $('empty', H), loadMore: $('load-more', Button),
  details: $('details', HTMLDialogElement), detailsTitle: $('details-title', H), detailsClose: $('details-close', Button),
  copyLink: $('copy-link', Button), copyJson: $('copy-json', Button), copyStatus: $('copy-status', H),
  detailsError: $('details-error', H), detailsFields: $('details-fields', H),
  detailsChanges: $('details-changes', HTMLTableElement), detailsNoChanges: $('details-no-changes', H),
  detailsRaw: $('details-raw', H),
};

/** The filter fields, by the API parameter each one sets. */
export const fields = {
  productArea: ui.productArea, actorType: $('actorType', Select), actorId: $('actorId', Input),
  resourceType: $('resourceType', Input), resourceId: $('resourceId', Input), start: $('start', Input), end: $('end', Input),
};

/**
 * An element holding text (never markup).
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {string | null | undefined} value
 * @param {string} [className]
 * @returns {HTMLElementTagNameMap[K]}
 */
export function text(tag, value, className) {
  const element = document.createElement(tag);
  element.textContent = value ?? '';
  if (className) {
    element.className = className;
  }
  return element;
}

/** @param {...(Node | string)} children */
export function cell(...children) {
  const td = document.createElement('td');
  td.append(...children);
  return td;
}

/**
 * A button that looks like a link and narrows the view to an actor or a resource. Its accessible
 * name begins with the text it shows (WCAG 2.5.3, label in name), so a voice command that says what
 * is on screen finds it.
 * @param {string} kind 'actor' or 'resource'
 * @param {string} shown the actor's or resource's name (or id)
 * @param {() => void} onClick
 * @param {string} [label] the text on the button, if not the name
 */
export function filterButton(kind, shown, onClick, label = shown) {
  const button = text('button', label, 'filter-link');
  button.type = 'button';
  button.setAttribute('aria-label', label === shown ? `Filter by ${kind} ${shown}` : `${label} (${shown})`);
  button.title = `Show only this ${kind}'s events`;
  button.addEventListener('click', onClick);
  return button;
}
