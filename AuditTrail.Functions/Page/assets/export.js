// @ts-check
// Export CSV: the view's events as a file. An export runs in the background (the API answers 202
// at once); the page follows its status until it is done, then downloads.
import { api, session, workspacePath } from './api.js';
import { ui } from './dom.js';
import { handleError, hideError } from './errors.js';
import { counted, timeFormat } from './format.js';
import { current, viewQuery } from './view.js';

/**
 * @typedef {object} ExportFile
 * @property {string} id
 * @property {'queued' | 'running' | 'succeeded' | 'failed'} status
 * @property {number} rowCount
 * @property {string} [fileName]
 * @property {string} [failureReason]
 * @property {string} [downloadUrl]
 * @property {string} [downloadUrlExpiresAt]
 */

// The bound: at most EXPORT_MAX_POLLS looks, about two hours.
const EXPORT_POLL_MS = 1500;
const EXPORT_MAX_POLLS = 4800;

/** @param {ExportFile} file */
function showExportProgress(file) {
  ui.exportStatus.textContent = file.status === 'queued'
    ? 'Export queued. It runs in the background; this page follows it and downloads the file when it is ready.'
    : `Exporting… ${counted(file.rowCount, 'event')} written so far.`;
}

/**
 * Exports the view as last searched.
 * @param {URLSearchParams} query
 */
async function exportCsv(query) {
  ui.exportButton.disabled = true;
  ui.exportButton.textContent = 'Exporting…';
  hideError();
  const token = session.token;
  try {
    const suffix = query.toString() ? `?${query}` : '';
    /** @type {ExportFile} */
    let file = await api(workspacePath(`/exports${suffix}`), { method: 'POST' });
    const statusPath = workspacePath(`/exports/${encodeURIComponent(file.id)}`);
    for (let polls = 0; file.status === 'queued' || file.status === 'running'; polls++) {
      showExportProgress(file);
      if (polls >= EXPORT_MAX_POLLS) {
        ui.exportStatus.textContent = `The export is still running after two hours. Its id is ${file.id}; ask for it again later.`;
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, EXPORT_POLL_MS));
      if (session.token !== token) {
        return; // signed out (or in as someone else) meanwhile
      }
      file = await api(statusPath);
    }
    if (file.status !== 'succeeded' || !file.downloadUrl) {
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
      ` (link valid until ${timeFormat.format(new Date(file.downloadUrlExpiresAt ?? ''))}).`);
    link.click();
  } catch (error) {
    ui.exportStatus.textContent = '';
    handleError(error, () => exportCsv(query));
  } finally {
    ui.exportButton.disabled = false;
    ui.exportButton.textContent = 'Export CSV';
  }
}

ui.exportButton.addEventListener('click', () => exportCsv(viewQuery(current)));
