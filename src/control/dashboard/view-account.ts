/**
 * The account page's sections: plan (tier, plan, Upgrade → Stripe Checkout,
 * Manage billing → Stripe's portal), usage charts, API keys (create: the key
 * is shown once, in this response only; revoke), sign-ins, orgs and
 * invitations. Every form posts with the CSRF field.
 */
import { html } from 'hono/html';
import type { AccountData } from './account-data.js';
import { barChart } from './chart.js';
import { csrfField, type Markup, postButton, when } from './layout.js';

export interface AccountExtras {
  /** A key just created: shown once. */
  readonly newKey?: string;
  readonly notice?: string;
  /** Plans "Upgrade" offers: name → tier (billing.plans); those above the user's tier are offered. */
  readonly plans: ReadonlyArray<{ name: string; rank: number }>;
  /** The tiers' order (`tiers`, lowest first). */
  readonly rank: ReadonlyMap<string, number>;
  readonly billing: boolean;
}

export function accountBody(a: AccountData, csrf: string, x: AccountExtras): Markup {
  return html`${x.notice ? html`<p class="notice" role="status">${x.notice}</p>` : ''}
${planSection(a, csrf, x)}
<section aria-labelledby="usage"><h2 id="usage">Usage this month</h2>
${barChart(a.requests, 'chart-requests', a.month, a.monthDays)}
${barChart(a.tokens, 'chart-tokens', a.month, a.monthDays)}
</section>
${keysSection(a, csrf, x.newKey)}
${orgsSection(a)}
<section aria-labelledby="signins"><h2 id="signins">Sign-ins</h2>
<ul>${a.identities.map((i) => html`<li>${i.provider}${i.email ? html` · ${i.email}` : ''}</li>`)}</ul>
</section>`;
}

function planSection(a: AccountData, csrf: string, x: AccountExtras): Markup {
  const current = x.rank.get(a.tier) ?? -1;
  const offered = x.plans.filter((p) => p.rank > current);
  const upgrade =
    x.billing && offered.length > 0
      ? html`<form method="post" action="/account/checkout" class="row">${csrfField(csrf)}
<div><label for="plan">Plan</label><select id="plan" name="plan">${offered.map((p) => html`<option value="${p.name}">${p.name}</option>`)}</select></div>
<button type="submit">Upgrade</button></form>`
      : '';
  return html`<section aria-labelledby="plan-h"><h2 id="plan-h">Subscription</h2>
<p>Tier <span class="tier" data-testid="tier">${a.tier}</span>${a.plan ? html` · plan ${a.plan}` : ''}</p>
<p class="muted">${a.user.email ?? 'no verified email'} · user ${a.user.user_id}</p>
${upgrade}
${x.billing ? html`<p>${postButton('/account/portal', 'Manage billing', csrf)}</p>` : ''}
</section>`;
}

function keysSection(a: AccountData, csrf: string, newKey: string | undefined): Markup {
  const shown = newKey
    ? html`<div role="status"><p><strong>Your new API key.</strong> Copy it now: it is not shown again.</p>
<code class="secret" data-testid="new-key">${newKey}</code></div>`
    : '';
  const rows = a.keys.map(
    (k) => html`<tr><td><code>${k.key_id}</code></td><td>${k.status}</td><td>${when(k.created_at)}</td>
<td>${k.status === 'active' ? postButton(`/account/keys/${encodeURIComponent(k.key_id)}/revoke`, 'Revoke', csrf, 'danger', `Revoke ${k.key_id}`) : ''}</td></tr>`,
  );
  return html`<section aria-labelledby="keys"><h2 id="keys">API keys</h2>
${shown}
${a.keys.length > 0 ? html`<table><thead><tr><th scope="col">Key</th><th scope="col">Status</th><th scope="col">Created</th><th scope="col"><span class="skip">Actions</span></th></tr></thead><tbody>${rows}</tbody></table>` : html`<p class="muted">No keys yet.</p>`}
<form method="post" action="/account/keys">${csrfField(csrf)}<button type="submit">Create API key</button></form>
</section>`;
}

function orgsSection(a: AccountData): Markup {
  const orgs = a.orgs.map(
    (o) =>
      html`<li>${o.name} (${o.role})${
        o.pending.length > 0 ? html`<ul>${o.pending.map((i) => html`<li>invited ${i.email} as ${i.role}, until ${when(i.expires_at)}</li>`)}</ul>` : ''
      }</li>`,
  );
  const invited = a.invitedTo.map((i) => html`<li>${i.name}: invited as ${i.role}, until ${when(i.expires_at)} (accept with the link in the invitation)</li>`);
  return html`<section aria-labelledby="orgs"><h2 id="orgs">Organisations</h2>
${a.orgs.length > 0 ? html`<ul>${orgs}</ul>` : html`<p class="muted">You are not a member of an organisation.</p>`}
${a.invitedTo.length > 0 ? html`<h3>Invitations for you</h3><ul>${invited}</ul>` : ''}
</section>`;
}
