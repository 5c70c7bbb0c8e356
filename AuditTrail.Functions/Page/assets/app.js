// @ts-check
// The Audit Trail page: native ES modules, no build step, no framework (the page's policy allows no
// eval); it only calls the app's own API. This module signs in and out and starts the page; each
// panel's module wires its own controls:
//   view.js     the view as one object ↔ the address     api.js       the API, the session
//   filters.js  the filters form, the type picker         chips.js     the active filters
//   search.js   a search, panel by panel                  trail.js     the list of events
//   activity.js the chart                                 integrity.js the integrity check
//   details.js  one event's dialog                        export.js    Export CSV
//   errors.js   what went wrong                           session.js   signing out
//   dom.js, time.js, format.js  elements, builders, and the pure formatting the unit tests cover
import { ApiError, api, session } from './api.js';
import { ui } from './dom.js';
import './export.js';
import { loadCatalog } from './filters.js';
import { forgetIntegrity } from './integrity.js';
import { fromAddress, search } from './search.js';
import { SIGNED_OUT_REASONS, TOKEN_KEY, showSignIn, signedOutMessage } from './session.js';

/** @param {string} token */
async function signIn(token) {
  ui.signInButton.disabled = true;
  ui.signInMessage.hidden = true;
  try {
    /** @type {import('./api.js').Caller} */
    const caller = await api('/api/access-token', { token });
    if (caller.role !== 'owner') {
      showSignIn(`This token has the ${caller.role} role. The Audit Trail is for Workspace Owners: sign in with an owner token.`);
      return;
    }
    session.token = token;
    session.caller = caller;
    sessionStorage.setItem(TOKEN_KEY, token);
    ui.whoWorkspace.textContent = caller.workspaceId;
    ui.whoToken.textContent = caller.name ? `as ${caller.name}` : '';
    ui.who.hidden = false;
    ui.signIn.hidden = true;
    ui.trail.hidden = false;
    await loadCatalog();
    await fromAddress();
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      showSignIn(signedOutMessage(error));
    } else {
      showSignIn(error instanceof Error ? error.message : String(error));
    }
  } finally {
    ui.signInButton.disabled = false;
  }
}

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
ui.refresh.addEventListener('click', () => {
  forgetIntegrity();
  search();
});
// The address edited by hand (or a link followed in this tab): the view it names.
window.addEventListener('hashchange', () => {
  if (session.caller) {
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
