// @ts-check
// The chart panel: events per UTC day over the view's range; a click on a day narrows to it.
import { api, workspacePath } from './api.js';
import { ui } from './dom.js';
import { counted, dayLabel, toLocalInput } from './format.js';
import { applyNow, setField } from './filters.js';
import { dayRange } from './view.js';

/** @typedef {{ day: string, count: number }} Day */
/** @typedef {{ value: Day[], total: number }} Activity */

const SVG = 'http://www.w3.org/2000/svg';

/** The chart being loaded: the next view's aborts it. */
let loading = new AbortController();

/**
 * @param {string} tag
 * @param {Record<string, string | number>} attributes
 */
function svg(tag, attributes) {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) {
    element.setAttribute(name, String(value));
  }
  return element;
}

/**
 * A new view is being searched: a chart still loading for the previous one is dropped, and this
 * one says it is busy until its own chart comes (after the list).
 */
export function awaitActivity() {
  loading.abort();
  ui.activity.setAttribute('aria-busy', 'true');
}

/** @param {URLSearchParams} query the view's */
export async function loadActivity(query) {
  loading.abort();
  loading = new AbortController();
  const { signal } = loading;
  ui.activity.setAttribute('aria-busy', 'true');
  try {
    const answer = await api(workspacePath(`/audit-events/activity?${query}`), { signal });
    if (!signal.aborted) {
      renderActivity(answer);
    }
  } catch (error) {
    if (!signal.aborted) {
      // The list says what went wrong (the same filters); the chart only says it has nothing.
      ui.activity.replaceChildren();
      ui.activity.setAttribute('aria-label', `Activity: not available (${error instanceof Error ? error.message : error})`);
    }
  } finally {
    if (!signal.aborted) {
      ui.activity.removeAttribute('aria-busy');
    }
  }
}

/** @param {Activity} answer */
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
    const group = svg('g', { class: 'day', 'data-day': d.day, 'data-count': d.count });
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
  /**
   * @param {number} x
   * @param {string} anchor
   * @param {string} value
   */
  const label = (x, anchor, value) => {
    const t = svg('text', { x, y: height + 14, 'text-anchor': anchor, class: 'tick' });
    t.textContent = value;
    return t;
  };
  const first = dayLabel(days[0].day);
  const last = dayLabel(days[days.length - 1].day);
  const peak = svg('text', { x: 2, y: 10, class: 'tick' });
  peak.textContent = `${max} / day`;
  chart.append(label(2, 'start', first), label(width - 2, 'end', last), peak);
  ui.activity.replaceChildren(chart);
  const busiest = days.reduce((a, b) => (b.count > a.count ? b : a));
  ui.activity.setAttribute('aria-label', `Activity: ${counted(answer.total, 'event')} from ${first} to ${last}`
    + (answer.total > 0 ? `; busiest day ${dayLabel(busiest.day)} with ${busiest.count}` : ''));
}

/**
 * A day of the chart (a UTC day): the range becomes that day.
 * @param {string} day
 */
function narrowToDay(day) {
  const { start, end } = dayRange(day);
  setField('start', toLocalInput(start));
  setField('end', toLocalInput(end));
  applyNow();
}
