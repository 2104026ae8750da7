/**
 * The dashboard's one stylesheet, served at `/dashboard.css` (CSP `style-src
 * 'self'`: no inline style anywhere). System fonts, a single column that fits a
 * 360 px phone, colours with at least 4.5:1 contrast (WCAG 2.1 AA), a visible
 * focus ring, provider buttons of one shape.
 */
export const STYLESHEET = `
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1b1f24;background:#f6f7f9}
.skip{position:absolute;left:-999px}.skip:focus{left:8px;top:8px;background:#fff;padding:8px;z-index:1}
.top{display:flex;flex-wrap:wrap;gap:12px;align-items:center;justify-content:space-between;padding:12px 16px;background:#14213d;color:#fff}
.brand{font-weight:700;font-size:1.1rem}
nav{display:flex;gap:16px;align-items:center}nav a,nav .link{color:#fff}
main{max-width:760px;margin:0 auto;padding:16px}
h1{font-size:1.5rem;margin:8px 0 16px}h2{font-size:1.15rem;margin:0 0 8px}
section{background:#fff;border:1px solid #d0d5dd;border-radius:8px;padding:16px;margin:0 0 16px}
a{color:#0b57d0}
:focus-visible{outline:3px solid #f4b400;outline-offset:2px}
button,.btn{display:inline-flex;align-items:center;justify-content:center;gap:8px;min-height:44px;padding:8px 16px;border-radius:6px;border:1px solid #0b57d0;background:#0b57d0;color:#fff;font:inherit;cursor:pointer;text-decoration:none}
button.secondary{background:#fff;color:#0b57d0}
button.danger{background:#fff;color:#b3261e;border-color:#b3261e}
button.link{background:none;border:0;padding:0;min-height:0;text-decoration:underline}
.providers{display:grid;gap:12px;max-width:360px}
.provider{width:100%;background:#fff;color:#1b1f24;border-color:#5f6368;font-weight:600}
.provider.github{background:#24292f;color:#fff;border-color:#24292f}
form.inline{display:inline}
label{display:block;font-weight:600;margin:8px 0 4px}
input,select{font:inherit;min-height:44px;padding:6px 8px;border:1px solid #5f6368;border-radius:6px;max-width:100%}
.row{display:flex;flex-wrap:wrap;gap:8px;align-items:end}
table{width:100%;border-collapse:collapse}th,td{text-align:left;padding:6px 4px;border-bottom:1px solid #e4e7ec;vertical-align:middle}
.tier{font-size:1.4rem;font-weight:700}
.secret{display:block;word-break:break-all;background:#fff8e1;border:1px solid #f4b400;padding:8px;border-radius:6px}
.notice{background:#e8f0fe;border:1px solid #0b57d0;border-radius:6px;padding:8px}
.chart{width:100%;height:auto;display:block}.chart .bar{fill:#0b57d0}.chart .bar.tokens{fill:#137333}.chart .axis{stroke:#5f6368}
.chart text{font-size:10px;fill:#3c4043}
figure{margin:0 0 12px}figcaption{margin:0 0 4px}
.muted{color:#4a5565}
@media (max-width:480px){main{padding:8px}section{padding:12px}th:nth-child(3),td:nth-child(3){display:none}}
`;
