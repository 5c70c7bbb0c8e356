// The Audit Trail page. Plain modules, no build step: it only calls the app's own API.
// Everything a producer wrote (names, ids, change values) is hostile: it reaches the page only
// through textContent and attribute setters, never as markup.

const TOKEN_KEY = 'auditTrail.token';
const PAGE_SIZE = 50;
const FILTERS = ['productArea', 'actorType', 'actorId', 'resourceType', 'resourceId', 'start', 'end'];

const $ = (id) => document.getElementById(id);
const ui = {
  signIn: $('sign-in'), signInForm: $('sign-in-form'), signInMessage: $('sign-in-message'), token: $('token'),
  signInButton: $('sign-in-button'), who: $('who'), whoWorkspace: $('who-workspace'), whoToken: $('who-token'),
  signOut: $('sign-out'), trail: $('trail'), filters: $('filters'), productArea: $('productArea'), type: $('type'),
  results: $('results'), table: $('events'), rows: $('event-rows'), summary: $('summary'), empty: $('empty'), loadMore: $('load-more'),
  error: $('error'), errorText: $('error-text'), retry: $('retry'), exportButton: $('export'), exportStatus: $('export-status'),
  details: $('details'), detailsTitle: $('details-title'), detailsFields: $('details-fields'),
  detailsChanges: $('details-changes'), detailsNoChanges: $('details-no-changes'), detailsClose: $('details-close'),
  detailsRaw: $('details-raw'), detailsError: $('details-error'), copyLink: $('copy-link'), copyJson: $('copy-json'), copyStatus: $('copy-status'),
  typeSearch: $('type-search'), typeList: $('type-list'), typeNone: $('type-none'), chips: $('chips'), noFilters: $('no-filters'),
  activity: $('activity'), activityCaption: $('activity-caption'), refresh: $('refresh'), filtersToggle: $('filters-toggle'),
  zoneHelp: $('zone-help'), start: $('start'), end: $('end'),
  integrity: $('integrity'), integrityText: $('integrity-text'), integrityFindings: $('integrity-findings'),
};

const state = {
  token: null,
  caller: null,
  events: [],
  nextLink: null,
  query: '',
  generation: 0, // answers to superseded searches are dropped
  activityGeneration: 0,
  integrityGeneration: 0,
  integrityRange: null, // the start/end last verified: other filters do not change what verification reads
  retry: null,
  types: new Set(), // the chosen event types
  names: new Map(), // 'actor:<id>' / 'resource:<type>:<id>' -> a display name seen in the trail, for the chips
  openEvent: null, // the id of the event whose details are open (in the address as event=<id>)
  rawJson: null, // that event exactly as GET …/audit-events/{id} answered
  rangeHours: null, // the quick range last chosen, while the dates are still its own
};

// dateStyle and timeZoneName cannot be combined: the zone needs the fields spelled out.
const timeFormat = new Intl.DateTimeFormat(undefined, {
  year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit', timeZoneName: 'short',
});
const longTimeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'full', timeStyle: 'long' });
const dayFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeZone: 'UTC' });
const relativeFormat = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });
const timeZone = Intl.DateTimeFormat().resolvedOptions().timeZone;

/** A refusal or failure from the API, carrying its problem-details code. */
class ApiError extends Error {
  constructor(status, code, detail, parameter) {
    super(detail);
    this.status = status;
    this.code = code;
    this.parameter = parameter;
  }
}

async function api(path, options = {}) {
  const text = await apiText(path, options);
  return JSON.parse(text);
}

/** The answer's text as the API sent it (Copy JSON gives exactly that), or an ApiError. */
async function apiText(path, { method = 'GET', token = state.token } = {}) {
  let response;
  try {
    response = await fetch(path, {
      method,
      headers: { Authorization: `Bearer ${token}`, Accept: 'application/json' },
      credentials: 'omit',
      cache: 'no-store',
    });
  } catch {
    throw new ApiError(0, 'network_error', 'The Audit Trail service could not be reached. Check your connection, then try again.');
  }
  if (response.ok) {
    return response.text();
  }
  let problem = {};
  try {
    problem = await response.json();
  } catch {
    // Not a problem-details body (a proxy's error page, say): the status is all there is.
  }
  const detail = typeof problem.detail === 'string' && problem.detail
    ? problem.detail
    : `The server answered ${response.status} ${response.statusText}.`;
  const retryAfter = response.headers.get('Retry-After');
  // A rate limit (429) says when to come back as a 503 does: the person sees it, in seconds.
  const suffix = (response.status >= 500 || response.status === 429) && retryAfter ? ` Try again in ${retryAfter} seconds.` : '';
  throw new ApiError(response.status, problem.code ?? 'error', detail + suffix, problem.parameter);
}

// ---- Signing in and out -------------------------------------------------------------------

const SIGNED_OUT_REASONS = {
  token_expired: 'Your access token has expired. Sign in with a new owner token.',
  token_revoked: 'Your access token has been revoked. Sign in with a new owner token.',
  invalid_token: 'That access token is not valid. Check that it was copied whole.',
  missing_token: 'Enter an owner access token.',
};

function showSignIn(message) {
  state.token = null;
  state.caller = null;
  state.integrityRange = null;
  sessionStorage.removeItem(TOKEN_KEY);
  ui.trail.hidden = true;
  ui.who.hidden = true;
  ui.signIn.hidden = false;
  ui.signInMessage.hidden = !message;
  ui.signInMessage.textContent = message ?? '';
  ui.token.value = '';
  ui.token.focus();
}

async function signIn(token) {
  ui.signInButton.disabled = true;
  ui.signInMessage.hidden = true;
  try {
    const caller = await api('/api/access-token', { token });
    if (caller.role !== 'owner') {
      showSignIn(`This token has the ${caller.role} role. The Audit Trail is for Workspace Owners: sign in with an owner token.`);
      return;
    }
    state.token = token;
    state.caller = caller;
    sessionStorage.setItem(TOKEN_KEY, token);
    ui.whoWorkspace.textContent = caller.workspaceId;
    ui.whoToken.textContent = caller.name ? `as ${caller.name}` : '';
    ui.who.hidden = false;
    ui.signIn.hidden = true;
    ui.trail.hidden = false;
    await loadCatalog();
    await fromAddress();
  } catch (error) {
    if (error.status === 401) {
      showSignIn(SIGNED_OUT_REASONS[error.code] ?? error.message);
    } else {
      showSignIn(error.message);
    }
  } finally {
    ui.signInButton.disabled = false;
  }
}

// ---- The catalog and the filters -----------------------------------------------------------

let catalog = [];

async function loadCatalog() {
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
  return [...ui.typeList.querySelectorAll('input[type=checkbox]')];
}

function visibleTypeBoxes() {
  return typeBoxes().filter((box) => !box.closest('label').hidden && !box.closest('fieldset').hidden);
}

/** The area and the search narrow the type list; a type of another area is no longer chosen. */
function narrowTypes() {
  const area = ui.productArea.value;
  const words = ui.typeSearch.value.toLowerCase().split(/\s+/).filter(Boolean);
  for (const group of ui.typeList.querySelectorAll('fieldset')) {
    const inArea = !area || group.dataset.area === area;
    let shown = 0;
    for (const label of group.querySelectorAll('label')) {
      const box = label.querySelector('input');
      if (!inArea && box.checked) {
        box.checked = false;
        state.types.delete(box.value);
      }
      const haystack = `${box.value} ${group.dataset.area}`.toLowerCase();
      label.hidden = !inArea || !words.every((w) => haystack.includes(w));
      shown += label.hidden ? 0 : 1;
    }
    group.hidden = shown === 0;
  }
  ui.typeNone.hidden = visibleTypeBoxes().length > 0;
}

function syncTypeBoxes() {
  for (const box of typeBoxes()) {
    box.checked = state.types.has(box.value);
  }
}

function toIso(localValue) {
  // datetime-local is the viewer's local time; the API takes an instant.
  const date = new Date(localValue);
  return Number.isNaN(date.getTime()) ? localValue : date.toISOString();
}

function filterQuery() {
  const params = new URLSearchParams();
  for (const name of FILTERS) {
    const value = ui.filters.elements[name].value.trim();
    if (value) {
      params.set(name, name === 'start' || name === 'end' ? toIso(value) : value);
    }
  }
  if (state.types.size > 0) {
    params.set('type', [...state.types].join(','));
  }
  return params;
}

function toLocalInput(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) {
    return '';
  }
  const pad = (n) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

/** The view's filters live in the address (never the token), so a view can be bookmarked or shared. */
function filtersFromAddress(params) {
  for (const name of FILTERS) {
    const value = params.get(name) ?? '';
    ui.filters.elements[name].value = name === 'start' || name === 'end' ? (value ? toLocalInput(value) : '') : value;
  }
  state.types = new Set((params.get('type') ?? '').split(',').filter(Boolean));
  state.rangeHours = null;
  syncTypeBoxes();
  narrowTypes();
}

/** Filters, then the event the address names (#event=<id>), if any. */
async function fromAddress() {
  const params = new URLSearchParams(location.hash.slice(1));
  const eventId = params.get('event');
  filtersFromAddress(params);
  state.openEvent = eventId || null;
  const searched = search();
  if (eventId) {
    await openEventById(eventId);
  }
  await searched;
}

function writeAddress() {
  const params = new URLSearchParams(state.query);
  if (state.openEvent) {
    params.set('event', state.openEvent);
  }
  const hash = params.toString();
  history.replaceState(null, '', hash ? `#${hash}` : location.pathname + location.search);
}

function clearFieldErrors() {
  for (const element of ui.filters.querySelectorAll('[aria-invalid]')) {
    element.removeAttribute('aria-invalid');
  }
}

function setField(name, value) {
  ui.filters.elements[name].value = value;
}

function filterByActor(actor) {
  state.names.set(`actor:${actor.id}`, actor.name ?? actor.id);
  setField('actorId', actor.id);
  search();
}

function filterByResource(resource) {
  state.names.set(`resource:${resource.type}:${resource.id}`, resource.name ?? resource.id);
  setField('resourceType', resource.type);
  setField('resourceId', resource.id);
  search();
}

/** A quick range: from that long ago until now (open-ended, so new events keep showing). */
function quickRange(hours) {
  setField('start', toLocalInput(new Date(Date.now() - hours * 3600_000).toISOString()));
  setField('end', '');
  search();
  state.rangeHours = hours;
  markQuickRange();
}

function markQuickRange() {
  for (const button of document.querySelectorAll('[data-range-hours]')) {
    button.setAttribute('aria-pressed', String(Number(button.dataset.rangeHours) === state.rangeHours));
  }
}

// ---- Active filters ------------------------------------------------------------------------

function chip(label, value, remove) {
  const item = document.createElement('li');
  item.className = 'chip';
  const button = text('button', '×', 'chip-remove');
  button.type = 'button';
  button.setAttribute('aria-label', `Remove filter ${label} ${value}`);
  button.addEventListener('click', () => {
    remove();
    search();
    // The chip is gone: keep the keyboard in the region rather than at the top of the page.
    (ui.chips.querySelector('button') ?? ui.results).focus();
  });
  item.append(text('span', label, 'chip-label'), text('span', value, 'chip-value'), button);
  return item;
}

function renderChips() {
  const chips = [];
  const value = (name) => ui.filters.elements[name].value.trim();
  const shownTime = (name) => {
    const date = new Date(value(name));
    return Number.isNaN(date.getTime()) ? value(name) : timeFormat.format(date);
  };
  if (value('start')) {
    chips.push(chip('From', shownTime('start'), () => { setField('start', ''); state.rangeHours = null; }));
  }
  if (value('end')) {
    chips.push(chip('Until', shownTime('end'), () => { setField('end', ''); state.rangeHours = null; }));
  }
  if (value('productArea')) {
    chips.push(chip('Area', value('productArea'), () => { setField('productArea', ''); narrowTypes(); }));
  }
  for (const type of state.types) {
    chips.push(chip('Type', type, () => { state.types.delete(type); syncTypeBoxes(); }));
  }
  if (value('actorType')) {
    chips.push(chip('Actor kind', value('actorType'), () => setField('actorType', '')));
  }
  if (value('actorId')) {
    const id = value('actorId');
    const name = state.names.get(`actor:${id}`);
    chips.push(chip('Actor', name && name !== id ? `${name} (${id})` : id, () => setField('actorId', '')));
  }
  if (value('resourceType') || value('resourceId')) {
    const key = `resource:${value('resourceType')}:${value('resourceId')}`;
    const name = state.names.get(key);
    const shown = [value('resourceType'), value('resourceId')].filter(Boolean).join(' ');
    chips.push(chip('Resource', name && name !== value('resourceId') ? `${name} (${shown})` : shown, () => {
      setField('resourceType', '');
      setField('resourceId', '');
    }));
  }
  ui.chips.replaceChildren(...chips);
  ui.noFilters.hidden = chips.length > 0;
}

// ---- Integrity -----------------------------------------------------------------------------

const MAX_FINDINGS_SHOWN = 5;

/**
 * Whether the events received in the view's range are as their signed digests say
 * (docs/integrity.md): the service recomputes each one from the trail. Its range is ingestion
 * time, the list's is event time; for a trail sent as it happens the two are the same days.
 */
async function loadIntegrity(params) {
  const range = new URLSearchParams();
  for (const name of ['start', 'end']) {
    if (params.get(name)) {
      range.set(name, params.get(name));
    }
  }
  const key = range.toString();
  if (key === state.integrityRange) {
    return;
  }
  state.integrityRange = key;
  const generation = ++state.integrityGeneration;
  ui.integrity.setAttribute('aria-busy', 'true');
  ui.integrity.dataset.state = 'checking';
  ui.integrityText.textContent = 'Integrity: checking the events received in this range against their signed digests…';
  ui.integrityFindings.replaceChildren();
  try {
    const report = await api(`/api/workspaces/${encodeURIComponent(state.caller.workspaceId)}/integrity/verification?${range}`);
    if (generation === state.integrityGeneration) {
      renderIntegrity(report);
    }
  } catch (error) {
    if (generation === state.integrityGeneration) {
      state.integrityRange = null; // checked again with the next search
      ui.integrity.dataset.state = 'unknown';
      ui.integrityText.textContent = `Integrity: not checked (${error.message}).`;
    }
  } finally {
    if (generation === state.integrityGeneration) {
      ui.integrity.removeAttribute('aria-busy');
    }
  }
}

/** "1 event", "1,234 events": the page's one way to count things in text. */
function counted(n, one, many = `${one}s`) {
  return `${countFormat.format(n)} ${n === 1 ? one : many}`;
}

function renderIntegrity(report) {
  const parts = [];
  if (report.intact) {
    parts.push(report.digests > 0
      ? `Integrity: verified intact. ${counted(report.events, 'event')} received in this range, in ${counted(report.digests, 'signed digest')}`
      : `Integrity: nothing wrong found, but no digest covers this range yet (${counted(report.events, 'event')} received in it)`);
  } else {
    const wrong = [
      report.modified.length && `${report.modified.length} modified`,
      report.misplaced.length && `${report.misplaced.length} misplaced`,
      report.missing.length && `${report.missing.length} missing`,
      report.unrecorded.length && `${report.unrecorded.length} unrecorded`,
      report.digestProblems.length && counted(report.digestProblems.length, 'digest problem'),
    ].filter(Boolean);
    parts.push(`Integrity: NOT intact — ${wrong.join(', ')}${report.truncated ? ' (the first found)' : ''}`);
  }
  if (report.pending > 0) {
    parts.push(`${counted(report.pending, 'event')} await the next seal`);
  }
  if (report.purged > 0) {
    parts.push(`${counted(report.purged, 'event')} purged by retention, as expected`);
  }
  ui.integrity.dataset.state = report.intact ? 'intact' : 'broken';
  ui.integrityText.replaceChildren(`${parts.join('; ')}. `);
  if (report.lastSealedAt) {
    ui.integrityText.append('Last digest sealed ', timeElement(report.lastSealedAt), '.');
  } else {
    ui.integrityText.append('No digest sealed yet (they are sealed hourly).');
  }
  const findings = [
    ...report.modified.map((f) => ['Modified', f.eventId, f.detail]),
    ...report.misplaced.map((f) => ['Misplaced', f.eventId, f.detail]),
    ...report.missing.map((f) => ['Missing', f.eventId, f.detail]),
    ...report.unrecorded.map((f) => ['Unrecorded', f.eventId, f.detail]),
    ...report.digestProblems.map((f) => [f.code, f.sequence == null ? 'the chain' : `digest ${f.sequence}`, f.detail]),
  ];
  ui.integrityFindings.replaceChildren(...findings.slice(0, MAX_FINDINGS_SHOWN).map(([what, subject, detail]) => {
    const item = document.createElement('li');
    item.append(text('strong', `${what}: `), text('code', subject), text('span', ` ${detail}`, 'sub'));
    return item;
  }));
  if (findings.length > MAX_FINDINGS_SHOWN) {
    ui.integrityFindings.append(text('li', `and ${findings.length - MAX_FINDINGS_SHOWN} more: see integrity verify (docs/integrity.md)`));
  }
}

// ---- The trail -----------------------------------------------------------------------------

async function search() {
  clearTimeout(applyTimer);
  clearFieldErrors();
  state.rangeHours = null;
  markQuickRange();
  const params = filterQuery();
  state.query = params.toString();
  writeAddress();
  renderChips();
  const activityParams = new URLSearchParams(params);
  params.set('limit', String(PAGE_SIZE));
  state.events = [];
  state.nextLink = null;
  ui.rows.replaceChildren();
  // What described the previous results goes with them: if this search fails or is refused,
  // "Load older events" would page the old query and "No events match" would speak of it.
  ui.loadMore.hidden = true;
  ui.empty.hidden = true;
  ui.exportStatus.textContent = '';
  ui.activity.setAttribute('aria-busy', 'true');
  const generation = ++state.activityGeneration; // a chart still loading for the previous view is dropped
  await loadPage(`/api/workspaces/${encodeURIComponent(state.caller.workspaceId)}/audit-events?${params}`, search);
  // The chart after the list: its counts read every day of the window, the list's first page
  // usually one, and the rows are what the owner came for (docs/performance.md, "Activity").
  if (generation === state.activityGeneration && state.caller) {
    await loadActivity(activityParams);
  }
  // Verification reads every event received in the range: last, and only when the range changes.
  if (state.caller) {
    await loadIntegrity(activityParams);
  }
}

let applyTimer = 0;

/** Typing in a text filter applies it once the typing pauses (Enter applies at once). */
function applySoon() {
  clearTimeout(applyTimer);
  applyTimer = setTimeout(search, 450);
}

async function loadMore() {
  if (state.nextLink) {
    await loadPage(state.nextLink, loadMore);
  }
}

async function loadPage(url, again) {
  const generation = ++state.generation;
  hideError();
  ui.results.setAttribute('aria-busy', 'true');
  ui.loadMore.disabled = true;
  ui.summary.textContent = state.events.length === 0 ? 'Loading…' : `Showing ${state.events.length} events. Loading older events…`;
  try {
    const page = await api(url);
    if (generation !== state.generation) {
      return;
    }
    state.nextLink = typeof page.nextLink === 'string' && page.nextLink.startsWith('/api/') ? page.nextLink : null;
    const firstNew = state.events.length;
    state.events.push(...page.value);
    ui.rows.append(...page.value.map((event, i) => eventRow(event, firstNew + i)));
    renderSummary();
  } catch (error) {
    if (generation === state.generation) {
      handleError(error, again);
    }
  } finally {
    if (generation === state.generation) {
      ui.results.removeAttribute('aria-busy');
      ui.loadMore.disabled = false;
    }
  }
}

function renderSummary() {
  const count = state.events.length;
  ui.empty.hidden = count > 0;
  ui.table.hidden = count === 0;
  ui.loadMore.hidden = !state.nextLink;
  ui.summary.textContent = count === 0
    ? ''
    : `Showing ${count} event${count === 1 ? '' : 's'}, newest first${state.nextLink ? '; older events are available' : ''}.`;
}

function cell(...children) {
  const td = document.createElement('td');
  td.append(...children);
  return td;
}

function text(tag, value, className) {
  const element = document.createElement(tag);
  element.textContent = value ?? '';
  if (className) {
    element.className = className;
  }
  return element;
}

function relative(date) {
  const seconds = (date.getTime() - Date.now()) / 1000;
  const units = [['year', 31536000], ['month', 2592000], ['week', 604800], ['day', 86400], ['hour', 3600], ['minute', 60]];
  for (const [unit, size] of units) {
    if (Math.abs(seconds) >= size) {
      return relativeFormat.format(Math.round(seconds / size), unit);
    }
  }
  return relativeFormat.format(Math.round(seconds), 'second');
}

/** "3 hours ago", with the exact instant on hover (title) and on focus (the tooltip). */
function timeElement(iso) {
  const time = document.createElement('time');
  time.dateTime = iso;
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) {
    time.textContent = iso;
    return time;
  }
  const exact = `${longTimeFormat.format(date)} (${iso})`;
  time.textContent = relative(date);
  time.title = exact;
  time.tabIndex = 0;
  time.className = 'relative';
  time.setAttribute('aria-label', `${time.textContent}, ${timeFormat.format(date)}`);
  time.dataset.exact = exact; // shown by the style sheet on hover and focus
  const wrap = document.createElement('span');
  wrap.append(time, text('span', timeFormat.format(date), 'sub'));
  return wrap;
}

/** A cell of the trail: one block of content, named for the stacked layout of narrow windows. */
function labelledCell(label, ...children) {
  const block = document.createElement('div');
  block.append(...children);
  const td = cell(block);
  td.dataset.label = label;
  return td;
}

function filterButton(kind, shown, onClick, label = shown) {
  const button = text('button', label, 'filter-link');
  button.type = 'button';
  button.setAttribute('aria-label', `Filter by ${kind} ${shown}`);
  button.title = `Show only this ${kind}'s events`;
  button.addEventListener('click', onClick);
  return button;
}

function actorButton(actor) {
  return filterButton('actor', actor.name ?? actor.id, () => filterByActor(actor));
}

function resourceButton(resource) {
  return filterButton('resource', resource.name ?? resource.id, () => filterByResource(resource));
}

function eventRow(event, index) {
  const row = document.createElement('tr');
  row.dataset.index = String(index);
  const time = timeElement(event.timestamp);
  const button = text('button', 'Details', 'secondary');
  button.type = 'button';
  const at = new Date(event.timestamp);
  button.setAttribute('aria-label', `Details of ${event.type} at ${Number.isNaN(at.getTime()) ? event.timestamp : timeFormat.format(at)}`);
  button.addEventListener('click', () => showDetails(event, button));
  row.addEventListener('click', (e) => {
    if (!e.target.closest('button, time') && !window.getSelection()?.toString()) {
      showDetails(event, button);
    }
  });
  row.append(
    labelledCell('Time', time),
    labelledCell('Event', text('span', event.type, 'type'), text('span', event.productArea, 'area')),
    labelledCell('Actor', actorButton(event.actor), text('span', `${event.actor.type} · ${event.actor.id}`, 'sub')),
    labelledCell('Resource', resourceButton(event.resource), text('span', `${event.resource.type} · ${event.resource.id}`, 'sub')),
    labelledCell('', button));
  return row;
}

// ---- Activity over time ----------------------------------------------------------------------

const SVG = 'http://www.w3.org/2000/svg';

function svg(tag, attributes) {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) {
    element.setAttribute(name, String(value));
  }
  return element;
}

async function loadActivity(params) {
  const generation = ++state.activityGeneration;
  ui.activity.setAttribute('aria-busy', 'true');
  try {
    const answer = await api(`/api/workspaces/${encodeURIComponent(state.caller.workspaceId)}/audit-events/activity?${params}`);
    if (generation === state.activityGeneration) {
      renderActivity(answer);
    }
  } catch (error) {
    if (generation === state.activityGeneration) {
      // The list says what went wrong (the same filters); the chart only says it has nothing.
      ui.activity.replaceChildren();
      ui.activity.setAttribute('aria-label', `Activity: not available (${error.message})`);
    }
  } finally {
    if (generation === state.activityGeneration) {
      ui.activity.removeAttribute('aria-busy');
    }
  }
}

function dayLabel(day) {
  return dayFormat.format(new Date(`${day}T00:00:00Z`));
}

function renderActivity(answer) {
  const days = answer.value;
  if (days.length === 0) {
    ui.activity.replaceChildren();
    ui.activity.setAttribute('aria-label', 'Activity: no days in this range');
    return;
  }
  const width = 900;
  const height = 120;
  const top = 14;
  const max = Math.max(1, ...days.map((d) => d.count));
  const step = width / days.length;
  const chart = svg('svg', { viewBox: `0 0 ${width} ${height + 18}`, preserveAspectRatio: 'none', 'aria-hidden': 'true', focusable: 'false' });
  days.forEach((d, i) => {
    const group = svg('g', { class: 'day' });
    group.dataset.day = d.day;
    group.dataset.count = String(d.count);
    const barHeight = d.count === 0 ? 0 : Math.max(2, (d.count / max) * (height - top));
    group.append(
      svg('rect', { class: 'hit', x: i * step, y: 0, width: step, height }),
      svg('rect', { class: 'bar', x: i * step + step * 0.12, y: height - barHeight, width: step * 0.76, height: barHeight }));
    const title = svg('title', {});
    title.textContent = `${dayLabel(d.day)}: ${d.count} event${d.count === 1 ? '' : 's'}`;
    group.append(title);
    group.addEventListener('click', () => narrowToDay(d.day));
    chart.append(group);
  });
  chart.append(svg('line', { class: 'axis', x1: 0, y1: height, x2: width, y2: height }));
  const label = (x, anchor, value) => {
    const t = svg('text', { x, y: height + 14, 'text-anchor': anchor, class: 'tick' });
    t.textContent = value;
    return t;
  };
  chart.append(label(2, 'start', dayLabel(days[0].day)), label(width - 2, 'end', dayLabel(days[days.length - 1].day)));
  const peak = svg('text', { x: 2, y: 10, class: 'tick' });
  peak.textContent = `${max} / day`;
  chart.append(peak);
  ui.activity.replaceChildren(chart);
  const busiest = days.reduce((a, b) => (b.count > a.count ? b : a));
  ui.activity.setAttribute('aria-label', `Activity: ${counted(answer.total, 'event')} from ${dayLabel(days[0].day)} to ${dayLabel(days[days.length - 1].day)}`
    + (answer.total > 0 ? `; busiest day ${dayLabel(busiest.day)} with ${busiest.count}` : ''));
}

/** A day of the chart (a UTC day): the range becomes that day. */
function narrowToDay(day) {
  const start = new Date(`${day}T00:00:00Z`);
  const end = new Date(start.getTime() + 86400_000);
  setField('start', toLocalInput(start.toISOString()));
  setField('end', toLocalInput(end.toISOString()));
  search();
}

// ---- Details -------------------------------------------------------------------------------

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

function showValue(value) {
  if (value === undefined) {
    return text('span', 'not set', 'absent');
  }
  return text('pre', typeof value === 'string' ? value : JSON.stringify(value, null, 2));
}

function eventPath(id) {
  return `/api/workspaces/${encodeURIComponent(state.caller.workspaceId)}/audit-events/${encodeURIComponent(id)}`;
}

/**
 * Where the event came from, as the trail recorded it at ingestion; a reader must be able to tell
 * the trail's own records from events a producer sent.
 * @param {string | undefined} source
 * @returns {string | undefined}
 */
function sourceText(source) {
  switch (source) {
    case 'trail': return 'trail (recorded by the audit trail itself)';
    case 'api': return 'api (posted to the HTTP API)';
    case 'hub': return 'hub (sent through Event Hubs)';
    default: return source;
  }
}

/** Opens the details of an event known only by its id (the address named it). */
async function openEventById(id) {
  try {
    const raw = await apiText(eventPath(id));
    showDetails(JSON.parse(raw), null, raw);
  } catch (error) {
    state.openEvent = null;
    writeAddress();
    if (error.status === 404) {
      ui.errorText.textContent = 'The link names an event this workspace does not have (or no longer has: the trail keeps 90 days).';
      ui.retry.hidden = true;
      ui.error.hidden = false;
    } else {
      handleError(error, () => openEventById(id));
    }
  }
}

function showDetails(event, opener, raw) {
  ui.detailsTitle.textContent = event.type;
  const fields = document.createDocumentFragment();
  const at = new Date(event.timestamp);
  addField(fields, 'Time', Number.isNaN(at.getTime()) ? event.timestamp : `${timeFormat.format(at)}, ${relative(at)} (${event.timestamp})`);
  addField(fields, 'Product area', event.productArea);
  addField(fields, 'Event id', event.id);
  addField(fields, 'Source', sourceText(event.source));
  const closeAnd = (action) => () => {
    ui.details.close();
    action();
  };
  addField(fields, 'Actor', `${event.actor.name ? `${event.actor.name} ` : ''}(${event.actor.type} ${event.actor.id})`,
    filterButton('actor', event.actor.name ?? event.actor.id, closeAnd(() => filterByActor(event.actor)), 'Show only this actor'));
  addField(fields, 'Actor email', event.actor.email);
  addField(fields, 'Resource', `${event.resource.name ? `${event.resource.name} ` : ''}(${event.resource.type} ${event.resource.id})`,
    filterButton('resource', event.resource.name ?? event.resource.id, closeAnd(() => filterByResource(event.resource)), 'Show only this resource'));
  addField(fields, 'IP address', event.context?.ip);
  addField(fields, 'User agent', event.context?.userAgent);
  addField(fields, 'Request id', event.context?.requestId);
  if (event.properties !== undefined) {
    addField(fields, 'Properties', JSON.stringify(event.properties, null, 2));
  }
  ui.detailsFields.replaceChildren(fields);

  const body = ui.detailsChanges.tBodies[0];
  body.replaceChildren();
  const changes = Array.isArray(event.changes) ? event.changes : event.changes === undefined ? [] : [{ field: '(changes)', after: event.changes }];
  for (const change of changes) {
    const row = document.createElement('tr');
    const isChange = change !== null && typeof change === 'object' && !Array.isArray(change);
    row.append(
      cell(text('span', isChange && typeof change.field === 'string' ? change.field : '(unnamed)')),
      cell(isChange ? showValue(change.before) : showValue(undefined)),
      cell(isChange ? showValue(change.after) : showValue(change)));
    body.append(row);
  }
  ui.detailsChanges.hidden = changes.length === 0;
  ui.detailsNoChanges.hidden = changes.length > 0;
  ui.copyStatus.textContent = '';
  ui.detailsError.hidden = true;
  state.openEvent = event.id;
  writeAddress();
  showRaw(event.id, raw);
  // Opened from a link there is no opener: focus goes back to the results.
  ui.details.returnFocus = opener ?? ui.results;
  if (!ui.details.open) {
    ui.details.showModal();
  }
  ui.detailsClose.focus();
}

/** The raw view and Copy JSON show the event as the one-event route answers, fetched if not given. */
async function showRaw(id, raw) {
  state.rawJson = raw ?? null;
  ui.copyJson.disabled = raw === undefined;
  ui.detailsRaw.textContent = raw === undefined ? 'Loading…' : pretty(raw);
  if (raw !== undefined) {
    return;
  }
  try {
    const text = await apiText(eventPath(id));
    if (state.openEvent === id) {
      state.rawJson = text;
      ui.detailsRaw.textContent = pretty(text);
      ui.copyJson.disabled = false;
    }
  } catch (error) {
    if (state.openEvent === id) {
      ui.detailsRaw.textContent = '';
      ui.detailsError.textContent = `The event's JSON could not be loaded: ${error.message}`;
      ui.detailsError.hidden = false;
    }
  }
}

function pretty(raw) {
  try {
    return JSON.stringify(JSON.parse(raw), null, 2);
  } catch {
    return raw;
  }
}

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

function eventLink(id) {
  return `${location.origin}${location.pathname}#event=${encodeURIComponent(id)}`;
}

// ---- Export --------------------------------------------------------------------------------

// An export runs in the background (the API answers 202 at once); the page follows its status
// until it is done, then downloads. The bound: at most EXPORT_MAX_POLLS looks, about two hours.
const EXPORT_POLL_MS = 1500;
const EXPORT_MAX_POLLS = 4800;
const countFormat = new Intl.NumberFormat();

function showExportProgress(file) {
  ui.exportStatus.textContent = file.status === 'queued'
    ? 'Export queued. It runs in the background; this page follows it and downloads the file when it is ready.'
    : `Exporting… ${counted(file.rowCount, 'event')} written so far.`;
}

async function exportCsv() {
  ui.exportButton.disabled = true;
  ui.exportButton.textContent = 'Exporting…';
  hideError();
  const token = state.token;
  try {
    const workspace = encodeURIComponent(state.caller.workspaceId);
    const query = state.query ? `?${state.query}` : '';
    let file = await api(`/api/workspaces/${workspace}/exports${query}`, { method: 'POST' });
    const statusPath = `/api/workspaces/${workspace}/exports/${encodeURIComponent(file.id)}`;
    for (let polls = 0; file.status === 'queued' || file.status === 'running'; polls++) {
      showExportProgress(file);
      if (polls >= EXPORT_MAX_POLLS) {
        ui.exportStatus.textContent = `The export is still running after two hours. Its id is ${file.id}; ask for it again later.`;
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, EXPORT_POLL_MS));
      if (state.token !== token) {
        return; // signed out (or in as someone else) meanwhile
      }
      file = await api(statusPath);
    }
    if (file.status !== 'succeeded') {
      ui.exportStatus.textContent = `The export failed: ${file.failureReason ?? 'no reason was given.'} Try again, or narrow the filters.`;
      return;
    }
    const link = document.createElement('a');
    link.href = file.downloadUrl;
    link.textContent = 'download it again';
    link.rel = 'noopener noreferrer';
    ui.exportStatus.replaceChildren(
      `Exported ${counted(file.rowCount, 'event')} to ${file.fileName}. Your download has started; `,
      link,
      ` (link valid until ${timeFormat.format(new Date(file.downloadUrlExpiresAt))}).`);
    link.click();
  } catch (error) {
    ui.exportStatus.textContent = '';
    handleError(error, exportCsv);
  } finally {
    ui.exportButton.disabled = false;
    ui.exportButton.textContent = 'Export CSV';
  }
}

// ---- Errors --------------------------------------------------------------------------------

function hideError() {
  ui.error.hidden = true;
  state.retry = null;
}

function handleError(error, again) {
  if (error.status === 401) {
    showSignIn(SIGNED_OUT_REASONS[error.code] ?? error.message);
    return;
  }
  ui.summary.textContent = '';
  if (error.status === 400 && error.parameter) {
    const field = error.parameter === 'type' ? ui.typeSearch : ui.filters.elements[error.parameter];
    if (field) {
      field.setAttribute('aria-invalid', 'true');
      field.focus();
    }
  }
  const limited = error.status === 429;
  const transient = error.status === 0 || error.status >= 500 || limited;
  ui.errorText.textContent = transient && !limited ? `Something went wrong on our side. ${error.message}` : error.message;
  ui.retry.hidden = !transient;
  state.retry = transient ? again : null;
  ui.error.hidden = false;
  ui.table.hidden = state.events.length === 0;
  if (!(error.status === 400 && error.parameter)) {
    // The control that was used may be far below (a long filter list, a narrow window).
    ui.error.scrollIntoView({ block: 'nearest' });
  }
}

// ---- Wiring --------------------------------------------------------------------------------

ui.signInForm.addEventListener('submit', (e) => {
  e.preventDefault();
  const token = ui.token.value.trim();
  if (!token) {
    ui.signInMessage.textContent = SIGNED_OUT_REASONS.missing_token;
    ui.signInMessage.hidden = false;
    ui.token.focus();
    return;
  }
  signIn(token);
});
ui.signOut.addEventListener('click', () => showSignIn('Signed out.'));
ui.filters.addEventListener('submit', (e) => {
  e.preventDefault();
  search();
});
ui.filters.addEventListener('reset', () => {
  // After the browser has cleared the fields.
  setTimeout(() => {
    state.types.clear();
    ui.typeSearch.value = '';
    syncTypeBoxes();
    narrowTypes();
    search();
  });
});
// Filters apply as they change: choices at once, typed text when the typing pauses.
ui.filters.addEventListener('change', (e) => {
  if (e.target === ui.typeSearch) {
    return;
  }
  if (e.target.type === 'checkbox') {
    if (e.target.checked) {
      state.types.add(e.target.value);
    } else {
      state.types.delete(e.target.value);
    }
  }
  if (e.target === ui.productArea) {
    narrowTypes();
  }
  search();
});
ui.filters.addEventListener('input', (e) => {
  if (e.target.type === 'text') {
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
  button.addEventListener('click', () => quickRange(Number(button.dataset.rangeHours)));
}
ui.filtersToggle.addEventListener('click', () => {
  const open = ui.filtersToggle.getAttribute('aria-expanded') !== 'true';
  ui.filtersToggle.setAttribute('aria-expanded', String(open));
  ui.filters.classList.toggle('open', open);
  if (open) {
    ui.filters.querySelector('input, select, button')?.focus();
  }
});
ui.zoneHelp.textContent = `In your local time (${timeZone}).`;
ui.refresh.addEventListener('click', () => {
  state.integrityRange = null;
  search();
});
ui.loadMore.addEventListener('click', loadMore);
ui.exportButton.addEventListener('click', exportCsv);
ui.retry.addEventListener('click', () => state.retry?.());
ui.detailsClose.addEventListener('click', () => ui.details.close());
ui.details.addEventListener('close', () => {
  state.openEvent = null;
  state.rawJson = null;
  writeAddress();
  ui.details.returnFocus?.focus();
});
ui.details.addEventListener('click', (e) => {
  if (e.target === ui.details) {
    ui.details.close(); // a click on the backdrop
  }
});
ui.copyLink.addEventListener('click', () => {
  if (state.openEvent) {
    copyText(eventLink(state.openEvent), 'Link');
  }
});
ui.copyJson.addEventListener('click', () => {
  if (state.rawJson !== null) {
    copyText(state.rawJson, 'JSON');
  }
});
// The address edited by hand (or a link followed in this tab): the view it names.
window.addEventListener('hashchange', () => {
  if (state.caller) {
    if (ui.details.open) {
      ui.details.close();
    }
    fromAddress();
  }
});

const saved = sessionStorage.getItem(TOKEN_KEY);
if (saved) {
  signIn(saved);
} else {
  showSignIn();
}
