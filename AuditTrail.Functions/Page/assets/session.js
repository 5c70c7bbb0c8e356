// @ts-check
// Signing out (by choice, or because the API no longer takes the token).
import { session } from './api.js';
import { ui } from './dom.js';
import { forgetIntegrity } from './integrity.js';

export const TOKEN_KEY = 'auditTrail.token';

/** @type {Record<string, string>} */
export const SIGNED_OUT_REASONS = {
  token_expired: 'Your access token has expired. Sign in with a new owner token.',
  token_revoked: 'Your access token has been revoked. Sign in with a new owner token.',
  invalid_token: 'That access token is not valid. Check that it was copied whole.',
  missing_token: 'Enter an owner access token.',
};

/**
 * What to tell someone the API has just signed out (a 401).
 * @param {{ code: string, message: string }} error
 */
export function signedOutMessage(error) {
  return SIGNED_OUT_REASONS[error.code] ?? error.message;
}

/**
 * The sign-in form, the token forgotten.
 * @param {string} [message] why, if it was not by choice
 */
export function showSignIn(message) {
  session.token = null;
  session.caller = null;
  forgetIntegrity();
  sessionStorage.removeItem(TOKEN_KEY);
  ui.trail.hidden = true;
  ui.who.hidden = true;
  ui.signIn.hidden = false;
  ui.signInMessage.hidden = !message;
  ui.signInMessage.textContent = message ?? '';
  ui.token.value = '';
  ui.token.focus();
}
