/**
 * The page frame every dashboard page shares: landmarks (header, nav, main),
 * the one stylesheet, a skip link first in the focus order, and the sign-out
 * form. Values go through hono's `html` template, which escapes every
 * interpolation; nested `html` fragments pass through as markup.
 */
import { html } from 'hono/html';

export type Markup = ReturnType<typeof html>;

export interface Viewer {
  readonly name: string;
  readonly admin: boolean;
  readonly csrf: string;
}

export function page(title: string, body: Markup, viewer?: Viewer): Markup {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · Argus</title>
<link rel="stylesheet" href="/dashboard.css">
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header class="top">
<span class="brand">Argus</span>
${viewer === undefined ? '' : nav(viewer)}
</header>
<main id="main">
<h1>${title}</h1>
${body}
</main>
</body>
</html>`;
}

function nav(v: Viewer): Markup {
  return html`<nav aria-label="Main">
<a href="/account">Account</a>
${v.admin ? html`<a href="/admin">Admin</a>` : ''}
<form method="post" action="/logout" class="inline">
${csrfField(v.csrf)}
<button type="submit" class="link">Log out</button>
</form>
</nav>`;
}

/** The hidden CSRF field every POST form carries. */
export function csrfField(token: string): Markup {
  return html`<input type="hidden" name="csrf" value="${token}">`;
}

/** A one-button POST form (revoke, manage billing, ...); `name`: the accessible name when the label alone is ambiguous. */
export function postButton(action: string, label: string, csrf: string, cls = 'secondary', name?: string): Markup {
  return html`<form method="post" action="${action}" class="inline">${csrfField(csrf)}<button type="submit" class="${cls}"${
    name === undefined ? '' : html` aria-label="${name}"`
  }>${label}</button></form>`;
}

/** A page for an error outcome (400, 403, 502): what happened and where to go. */
export function problem(title: string, message: string): Markup {
  return page(title, html`<p role="alert">${message}</p><p><a href="/login">Back to sign-in</a></p>`);
}

export const when = (d: string | Date): string => new Date(d).toISOString().slice(0, 10);
