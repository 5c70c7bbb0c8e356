// @ts-check
// A time as the page shows it: how long ago, with the exact instant at hand.
import { text } from './dom.js';
import { longTimeFormat, relative, timeFormat } from './format.js';

/**
 * "3 hours ago", with the exact instant on hover (title) and on focus (the tooltip).
 * @param {string} iso
 * @returns {HTMLElement}
 */
export function timeElement(iso) {
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
