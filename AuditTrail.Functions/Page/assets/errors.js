// @ts-check
// What went wrong, said once under the results, with Try again when trying again can help.
import { ApiError } from './api.js';
import { fields, ui } from './dom.js';
import { showSignIn, signedOutMessage } from './session.js';

/** @type {(() => void) | null} what Try again does */
let retry = null;

ui.retry.addEventListener('click', () => retry?.());

export function hideError() {
  ui.error.hidden = true;
  retry = null;
}

/**
 * A message with no Try again (a link to an event the workspace does not have, say).
 * @param {string} message
 */
export function showNotice(message) {
  ui.errorText.textContent = message;
  ui.retry.hidden = true;
  ui.error.hidden = false;
}

/**
 * Says what went wrong: a 401 signs out, a refused filter is marked on its field, a failure that
 * may pass offers Try again (`again`).
 * @param {unknown} error
 * @param {() => void} again
 */
export function handleError(error, again) {
  const api = error instanceof ApiError ? error : null;
  const status = api?.status;
  const message = error instanceof Error ? error.message : String(error);
  if (api && status === 401) {
    showSignIn(signedOutMessage(api));
    return;
  }
  ui.summary.textContent = '';
  const parameter = api?.parameter;
  if (status === 400 && parameter) {
    const field = parameter === 'type' ? ui.typeSearch : parameter in fields ? fields[/** @type {keyof fields} */ (parameter)] : null;
    if (field) {
      field.setAttribute('aria-invalid', 'true');
      field.focus();
    }
  }
  const limited = status === 429;
  const transient = status !== undefined && (status === 0 || status >= 500 || limited);
  ui.errorText.textContent = transient && !limited ? `Something went wrong on our side. ${message}` : message;
  ui.retry.hidden = !transient;
  retry = transient ? again : null;
  ui.error.hidden = false;
  ui.table.hidden = ui.rows.childElementCount === 0;
  if (!(status === 400 && parameter)) {
    // The control that was used may be far below (a long filter list, a narrow window).
    ui.error.scrollIntoView({ block: 'nearest' });
  }
}
