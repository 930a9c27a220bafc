// Long tables show a window of their rows: the first ones that match the
// page's filter, a count, and buttons for more. A browser lays out and
// paints a hundred table rows in a few tens of milliseconds, a thousand in
// a third of a second, and a page re-draws its table on live events; the
// filter still searches every row, in memory.

import { html, render, count } from './dom.js';

/** PAGE_ROWS is how many rows a long table shows at first, and how many more "Show more" adds. */
export const PAGE_ROWS = 100;

/**
 * pager keeps the window of one table. foot is the element under the
 * table where it says "Showing 100 of 1,000 apps" (its data-shown,
 * data-matching and data-total carry the figures) and puts the buttons;
 * noun names the rows, plural; redraw is called when a button changed the
 * window. It returns {take, reset}: take(rows, total) returns the rows to
 * draw, in order, of the rows that match (of total in all), and updates
 * foot; reset() goes back to the first window, for a new filter.
 */
export function pager(foot, noun, redraw, step = PAGE_ROWS) {
  let limit = step;
  foot.classList.add('table-foot');
  foot.addEventListener('click', (ev) => {
    const b = ev.target.closest('button[data-show]');
    if (!b) return;
    const show = b.dataset.show;
    limit = show === 'all' ? Infinity : show === 'fewer' ? step : limit + step;
    redraw();
  });
  return {
    take(rows, total = rows.length) {
      const shown = rows.length > limit ? rows.slice(0, limit) : rows;
      Object.assign(foot.dataset, { shown: shown.length, matching: rows.length, total });
      const filtered = rows.length !== total;
      const of = filtered ? html`${count(rows.length)} matching ${noun} (${count(total)} in all)` : html`${count(total)} ${noun}`;
      let m = '';
      if (shown.length < rows.length) {
        m = html`<span>Showing ${count(shown.length)} of ${of}</span>
          <button type="button" data-show="more">Show ${count(Math.min(step, rows.length - shown.length))} more</button>
          <button type="button" data-show="all">Show all ${count(rows.length)}</button>`;
      } else if (rows.length > step) {
        m = html`<span>Showing all ${of}</span> <button type="button" data-show="fewer">Show the first ${count(step)}</button>`;
      } else if (filtered) {
        m = html`<span>${count(rows.length)} of ${count(total)} ${noun} match the filter</span>`;
      }
      foot.hidden = !m;
      render(foot, m);
      return shown;
    },
    reset() { limit = step; },
  };
}
