// @ts-check
// The app's own API, as the signed-in owner: answers, or an ApiError carrying the problem's code.

/**
 * The token's description, from GET /api/access-token.
 * @typedef {{ workspaceId: string, role: string, name?: string | null }} Caller
 */

/** Who is signed in (the token lives in this tab's session storage until sign-out). */
export const session = {
  /** @type {string | null} */
  token: null,
  /** @type {Caller | null} */
  caller: null,
};

/** A refusal or failure from the API, carrying its problem-details code. */
export class ApiError extends Error {
  /**
   * @param {number} status 0 when the service could not be reached
   * @param {string} code
   * @param {string} detail
   * @param {string} [parameter] the query parameter a 400 names
   */
  constructor(status, code, detail, parameter) {
    super(detail);
    this.status = status;
    this.code = code;
    this.parameter = parameter;
  }
}

/**
 * @typedef {object} CallOptions
 * @property {string} [method]
 * @property {string | null} [token] another token than the session's (signing in)
 * @property {AbortSignal} [signal] aborts the call; it then rejects with the signal's reason, not an ApiError
 */

/**
 * A path under the signed-in workspace: `/api/workspaces/{id}` and `rest`.
 * @param {string} rest
 */
export function workspacePath(rest) {
  if (!session.caller) {
    throw new Error('Not signed in.');
  }
  return `/api/workspaces/${encodeURIComponent(session.caller.workspaceId)}${rest}`;
}

/**
 * The answer's JSON.
 * @param {string} path
 * @param {CallOptions} [options]
 * @returns {Promise<any>}
 */
export async function api(path, options = {}) {
  const text = await apiText(path, options);
  return JSON.parse(text);
}

/**
 * The answer's text as the API sent it (Copy JSON gives exactly that), or an ApiError.
 * @param {string} path
 * @param {CallOptions} [options]
 * @returns {Promise<string>}
 */
export async function apiText(path, { method = 'GET', token = session.token, signal } = {}) {
  let response;
  try {
    response = await fetch(path, {
      method,
      headers: { Authorization: `Bearer ${token}`, Accept: 'application/json' },
      credentials: 'omit',
      cache: 'no-store',
      signal,
    });
  } catch (error) {
    if (signal?.aborted) {
      throw error; // superseded: not a failure to show
    }
    throw new ApiError(0, 'network_error', 'The Audit Trail service could not be reached. Check your connection, then try again.');
  }
  if (response.ok) {
    return response.text();
  }
  /** @type {{ detail?: unknown, code?: string, parameter?: string }} */
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
