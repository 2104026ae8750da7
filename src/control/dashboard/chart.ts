/**
 * This month's usage as two small bar charts (inline SVG, one bar per day of
 * the month so far): requests per day (`request` events) and LLM tokens per
 * day (`llm` quantity: input plus output tokens). Each chart has a text
 * title and a one-line summary for screen readers, and every bar its own
 * `<title>` (the day and the number), so the numbers are readable without
 * seeing the bars. Colours come from the stylesheet (CSP: no inline style).
 */
import { html } from 'hono/html';
import type { UsageView } from '../services/usage.js';
import type { Markup } from './layout.js';

export interface Series {
  readonly label: string;
  readonly unit: string;
  readonly cls: string;
  /** Index 0 is the 1st of the month. */
  readonly values: readonly number[];
}

/** Per-day sums of this month: requests (event count) and LLM tokens (quantity). */
export function monthSeries(items: UsageView['items'], monthStart: Date, days: number): { requests: Series; tokens: Series } {
  const requests = new Array<number>(days).fill(0);
  const tokens = new Array<number>(days).fill(0);
  for (const it of items) {
    const day = Math.floor((Date.parse(it.period_start) - monthStart.getTime()) / 86_400_000);
    if (day < 0 || day >= days) continue;
    if (it.kind === 'request') requests[day] = (requests[day] ?? 0) + it.events;
    else if (it.kind === 'llm') tokens[day] = (tokens[day] ?? 0) + it.quantity;
  }
  return {
    requests: { label: 'Requests per day', unit: 'requests', cls: 'bar', values: requests },
    tokens: { label: 'LLM tokens per day', unit: 'tokens', cls: 'bar tokens', values: tokens },
  };
}

const W = 10;
const H = 60;
const fmt = new Intl.NumberFormat('en');

/** `days`: bars drawn (the month so far); the axis spans `span` days (the whole month), so a chart keeps its shape all month. */
export function barChart(s: Series, id: string, month: string, span = 31): Markup {
  const max = Math.max(1, ...s.values);
  const total = s.values.reduce((a, b) => a + b, 0);
  const bars = s.values.map((v, i) => {
    const h = v === 0 ? 0 : Math.max(1, Math.round((v / max) * (H - 12)));
    return html`<rect class="${s.cls}" x="${i * W + 1}" y="${H - 10 - h}" width="${W - 2}" height="${h}"><title>${month} ${i + 1}: ${fmt.format(v)} ${s.unit}</title></rect>`;
  });
  const width = Math.max(span, s.values.length) * W;
  return html`<figure>
<figcaption id="${id}">${s.label}: ${fmt.format(total)} ${s.unit} this month, at most ${fmt.format(Math.max(0, ...s.values))} in a day</figcaption>
<svg class="chart" viewBox="0 0 ${width} ${H}" role="img" aria-labelledby="${id}">
${bars}
<line class="axis" x1="0" y1="${H - 10}" x2="${width}" y2="${H - 10}"></line>
<text x="0" y="${H - 1}">${month} 1</text><text x="${(s.values.length - 1) * W}" y="${H - 1}">${s.values.length}</text>
</svg>
</figure>`;
}
