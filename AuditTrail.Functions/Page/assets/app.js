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
};

const state = {
  token: null,
  caller: null,
  events: [],
  nextLink: null,
  query: '',
  generation: 0, // answers to superseded searches are dropped
  retry: null,
};

const timeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });

/** A refusal or failure from the API, carrying its problem-details code. */
class ApiError extends Error {
  constructor(status, code, detail, parameter) {
    super(detail);
    this.status = status;
    this.code = code;
    this.parameter = parameter;
  }
}

async function api(path, { method = 'GET', token = state.token } = {}) {
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
    return response.json();
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
  const suffix = response.status >= 500 && retryAfter ? ` Try again in ${retryAfter} seconds.` : '';
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
    filtersFromAddress();
    await search();
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
    const group = document.createElement('optgroup');
    group.label = area.name;
    for (const type of area.eventTypes) {
      group.append(new Option(type, type));
    }
    ui.type.append(group);
  }
}

/** Choosing an area narrows the type list to that area's types. */
function narrowTypes() {
  const area = ui.productArea.value;
  for (const group of ui.type.querySelectorAll('optgroup')) {
    const shown = !area || group.label === area;
    group.hidden = !shown;
    group.disabled = !shown;
    if (!shown) {
      for (const option of group.querySelectorAll('option')) {
        option.selected = false;
      }
    }
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
  const types = [...ui.type.selectedOptions].map((o) => o.value);
  if (types.length > 0) {
    params.set('type', types.join(','));
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
function filtersFromAddress() {
  const params = new URLSearchParams(location.hash.slice(1));
  for (const name of FILTERS) {
    const value = params.get(name) ?? '';
    ui.filters.elements[name].value = name === 'start' || name === 'end' ? (value ? toLocalInput(value) : '') : value;
  }
  narrowTypes();
  const types = new Set((params.get('type') ?? '').split(',').filter(Boolean));
  for (const option of ui.type.options) {
    option.selected = types.has(option.value) && !option.parentElement.disabled;
  }
}

function clearFieldErrors() {
  for (const element of ui.filters.querySelectorAll('[aria-invalid]')) {
    element.removeAttribute('aria-invalid');
  }
}

// ---- The trail -----------------------------------------------------------------------------

async function search() {
  clearFieldErrors();
  const params = filterQuery();
  state.query = params.toString();
  history.replaceState(null, '', state.query ? `#${state.query}` : location.pathname + location.search);
  params.set('limit', String(PAGE_SIZE));
  state.events = [];
  state.nextLink = null;
  ui.rows.replaceChildren();
  // What described the previous results goes with them: if this search fails or is refused,
  // "Load older events" would page the old query and "No events match" would speak of it.
  ui.loadMore.hidden = true;
  ui.empty.hidden = true;
  ui.exportStatus.textContent = '';
  await loadPage(`/api/workspaces/${encodeURIComponent(state.caller.workspaceId)}/audit-events?${params}`, search);
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

function timeElement(iso) {
  const time = document.createElement('time');
  time.dateTime = iso;
  const date = new Date(iso);
  time.textContent = Number.isNaN(date.getTime()) ? iso : timeFormat.format(date);
  time.title = iso;
  return time;
}

/** A cell of the trail: one block of content, named for the stacked layout of narrow windows. */
function labelledCell(label, ...children) {
  const block = document.createElement('div');
  block.append(...children);
  const td = cell(block);
  td.dataset.label = label;
  return td;
}

function eventRow(event, index) {
  const row = document.createElement('tr');
  row.dataset.index = String(index);
  const time = timeElement(event.timestamp);
  const button = text('button', 'Details', 'secondary');
  button.type = 'button';
  button.setAttribute('aria-label', `Details of ${event.type} at ${time.textContent}`);
  button.addEventListener('click', () => showDetails(event, button));
  row.addEventListener('click', (e) => {
    if (e.target !== button && !window.getSelection()?.toString()) {
      showDetails(event, button);
    }
  });
  row.append(
    labelledCell('Time', time),
    labelledCell('Event', text('span', event.type, 'type'), text('span', event.productArea, 'area')),
    labelledCell('Actor', text('span', event.actor.name ?? event.actor.id), text('span', `${event.actor.type} · ${event.actor.id}`, 'sub')),
    labelledCell('Resource', text('span', event.resource.name ?? event.resource.id), text('span', `${event.resource.type} · ${event.resource.id}`, 'sub')),
    labelledCell('', button));
  return row;
}

// ---- Details -------------------------------------------------------------------------------

function addField(list, name, value) {
  if (value === undefined || value === null || value === '') {
    return;
  }
  list.append(text('dt', name), text('dd', value));
}

function showValue(value) {
  if (value === undefined) {
    return text('span', 'not set', 'absent');
  }
  return text('pre', typeof value === 'string' ? value : JSON.stringify(value, null, 2));
}

function showDetails(event, opener) {
  ui.detailsTitle.textContent = event.type;
  const fields = document.createDocumentFragment();
  addField(fields, 'Time', `${timeFormat.format(new Date(event.timestamp))} (${event.timestamp})`);
  addField(fields, 'Product area', event.productArea);
  addField(fields, 'Event id', event.id);
  addField(fields, 'Actor', `${event.actor.name ? `${event.actor.name} ` : ''}(${event.actor.type} ${event.actor.id})`);
  addField(fields, 'Actor email', event.actor.email);
  addField(fields, 'Resource', `${event.resource.name ? `${event.resource.name} ` : ''}(${event.resource.type} ${event.resource.id})`);
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
  ui.details.returnFocus = opener;
  ui.details.showModal();
  ui.detailsClose.focus();
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
    : `Exporting… ${countFormat.format(file.rowCount)} event${file.rowCount === 1 ? '' : 's'} written so far.`;
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
      `Exported ${countFormat.format(file.rowCount)} event${file.rowCount === 1 ? '' : 's'} to ${file.fileName}. Your download has started; `,
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
    const field = ui.filters.elements[error.parameter];
    if (field) {
      field.setAttribute('aria-invalid', 'true');
      field.focus();
    }
  }
  const transient = error.status === 0 || error.status >= 500;
  ui.errorText.textContent = transient ? `Something went wrong on our side. ${error.message}` : error.message;
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
    narrowTypes();
    search();
  });
});
ui.productArea.addEventListener('change', narrowTypes);
ui.loadMore.addEventListener('click', loadMore);
ui.exportButton.addEventListener('click', exportCsv);
ui.retry.addEventListener('click', () => state.retry?.());
ui.detailsClose.addEventListener('click', () => ui.details.close());
ui.details.addEventListener('close', () => ui.details.returnFocus?.focus());
ui.details.addEventListener('click', (e) => {
  if (e.target === ui.details) {
    ui.details.close(); // a click on the backdrop
  }
});

const saved = sessionStorage.getItem(TOKEN_KEY);
if (saved) {
  signIn(saved);
} else {
  showSignIn();
}
