// @ts-check
// The integrity panel: whether the events received in the view's range are as their signed
// digests say (docs/integrity.md); the service recomputes each one from the trail. Its range is
// ingestion time, the list's is event time; for a trail sent as it happens the two are the same days.
import { api, workspacePath } from './api.js';
import { text, ui } from './dom.js';
import { counted } from './format.js';
import { timeElement } from './time.js';
import { rangeQuery } from './view.js';

const MAX_FINDINGS_SHOWN = 5;

/**
 * @typedef {{ eventId: string, detail: string }} Finding
 * @typedef {{ code: string, sequence?: number | null, detail: string }} DigestProblem
 * @typedef {object} Report
 * @property {boolean} intact
 * @property {number} events
 * @property {number} digests
 * @property {number} pending
 * @property {number} purged
 * @property {boolean} truncated
 * @property {string | null} [lastSealedAt]
 * @property {Finding[]} modified
 * @property {Finding[]} misplaced
 * @property {Finding[]} missing
 * @property {Finding[]} unrecorded
 * @property {DigestProblem[]} digestProblems
 */

/** The range last checked (its query): the other filters do not change what verification reads. */
let checkedRange = /** @type {string | null} */ (null);
/** The check in progress: a check of another range aborts it. */
let checking = new AbortController();

/** The next search checks again, even the same range (Refresh, a new sign-in). */
export function forgetIntegrity() {
  checkedRange = null;
}

/**
 * Checks the query's range, unless it is the range last checked.
 * @param {URLSearchParams} query the view's
 */
export async function loadIntegrity(query) {
  const range = rangeQuery(query);
  const key = range.toString();
  if (key === checkedRange) {
    return;
  }
  checkedRange = key;
  checking.abort();
  checking = new AbortController();
  const { signal } = checking;
  ui.integrity.setAttribute('aria-busy', 'true');
  ui.integrity.dataset.state = 'checking';
  ui.integrityText.textContent = 'Integrity: checking the events received in this range against their signed digests…';
  ui.integrityFindings.replaceChildren();
  try {
    const report = await api(workspacePath(`/integrity/verification?${range}`), { signal });
    if (!signal.aborted) {
      renderIntegrity(report);
    }
  } catch (error) {
    if (!signal.aborted) {
      checkedRange = null; // checked again with the next search
      ui.integrity.dataset.state = 'unknown';
      ui.integrityText.textContent = `Integrity: not checked (${error instanceof Error ? error.message : error}).`;
    }
  } finally {
    if (!signal.aborted) {
      ui.integrity.removeAttribute('aria-busy');
    }
  }
}

/** @param {Report} report */
function summary(report) {
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
  return `${parts.join('; ')}. `;
}

/**
 * @param {string} what
 * @returns {(finding: Finding) => [string, string, string]}
 */
const about = (what) => (finding) => [what, finding.eventId, finding.detail];

/** @param {Report} report */
function renderIntegrity(report) {
  ui.integrity.dataset.state = report.intact ? 'intact' : 'broken';
  ui.integrityText.replaceChildren(summary(report));
  if (report.lastSealedAt) {
    ui.integrityText.append('Last digest sealed ', timeElement(report.lastSealedAt), '.');
  } else {
    ui.integrityText.append('No digest sealed yet (they are sealed hourly).');
  }
  /** @type {[string, string, string][]} what, of what, and why */
  const findings = [
    ...report.modified.map(about('Modified')),
    ...report.misplaced.map(about('Misplaced')),
    ...report.missing.map(about('Missing')),
    ...report.unrecorded.map(about('Unrecorded')),
    ...report.digestProblems.map((f) => /** @type {[string, string, string]} */ (
      [f.code, f.sequence == null ? 'the chain' : `digest ${f.sequence}`, f.detail])),
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
