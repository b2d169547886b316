// The dashboard's one HTML page and its styles. The page is a shell: src/dashboard/web/main.ts builds
// everything in it from the API, with text nodes only (names, params and class names come from users' files).

/**
 * The page served by `pipe ui`, or (`exported`) the index.html of a static export: files beside it, relative
 * links, the page script as one classic script (file:// pages cannot load modules) and its own CSP.
 */
/** The served page fetches its modules at once instead of one import after another. */
const MODULE_PRELOADS = ['dom', 'charts', 'runs-page', 'run-page', 'compare-page', 'mistakes-page', 'sweep-page', 'data']
  .map((name) => `\n<link rel="modulepreload" href="/assets/${name}.js">`)
  .join('');

export function pageHtml(exported = false): string {
  const base = exported ? '' : '/';
  const csp = exported
    ? `\n<meta http-equiv="Content-Security-Policy" content="default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'none'; object-src 'none'; base-uri 'none'; form-action 'none'">`
    : '';
  return `<!doctype html>
<html lang="en"${exported ? ' data-site="static"' : ''}>
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">${csp}
<title>pipe ui</title>
<link rel="stylesheet" href="${base}assets/style.css">${exported ? '' : MODULE_PRELOADS}
<script ${exported ? 'defer' : 'type="module"'} src="${base}assets/main.js"></script>
</head>
<body>
<header><a href="#/" class="brand">pipe ui</a><nav><a href="#/">Runs</a></nav><span id="store"></span></header>
<main id="app"><p>Loading…</p></main>
</body>
</html>
`;
}

export const PAGE_HTML = pageHtml();

export const PAGE_CSS = `
:root { --fg: #1f2328; --muted: #59636e; --line: #d1d9e0; --bg: #fff; --head: #f6f8fa; --bad: #cf222e; --good: #1a7f37; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; gap: 1.5rem; align-items: baseline; padding: .6rem 1.2rem; border-bottom: 1px solid var(--line); background: var(--head); }
header .brand { font-weight: 700; color: var(--fg); text-decoration: none; }
header #store { color: var(--muted); margin-left: auto; font-size: 12px; }
main { padding: 1rem 1.2rem; }
h1 { font-size: 1.3rem; margin: .2rem 0 .8rem; } h2 { font-size: 1.05rem; margin: 1.4rem 0 .5rem; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { border-bottom: 1px solid var(--line); padding: .25rem .6rem; text-align: left; white-space: nowrap; }
th { background: var(--head); position: sticky; top: 0; }
th button { all: unset; cursor: pointer; font-weight: 600; }
td.num, th.num { text-align: right; }
tr.damaged td { color: var(--bad); }
.tag { display: inline-block; padding: 0 .35rem; margin-right: .25rem; border: 1px solid var(--line); border-radius: 999px; font-size: 12px; background: var(--head); }
.commit { font-family: ui-monospace, monospace; font-size: 12px; } .dirty { color: #9a6700; font-weight: 700; }
.pager { display: flex; gap: .5rem; align-items: center; margin-left: auto; } .pager[hidden] { display: none; }
ul.notes { margin: 0; padding-left: 1.1rem; } ul.notes li { white-space: pre-wrap; }
.status-running { color: #9a6700; font-weight: 600; } .status-failed, .status-interrupted, .leak { color: var(--bad); font-weight: 600; }
.status-ok { color: var(--good); }
.toolbar { display: flex; gap: .8rem; align-items: center; margin-bottom: .6rem; }
.toolbar input[type=search] { width: 22rem; padding: .25rem .4rem; }
.muted { color: var(--muted); }
.charts { display: flex; flex-wrap: wrap; gap: 1rem; }
.chart { border: 1px solid var(--line); padding: .4rem; }
.matrices { display: flex; flex-wrap: wrap; gap: 1.2rem; align-items: flex-start; }
table.confusion { font-size: 12px; } table.confusion td { text-align: center; min-width: 2.4rem; } table.confusion th, table.confusion td { padding: .15rem .35rem; }
.delta-up { color: var(--good); } .delta-down { color: var(--bad); }
.scroll { overflow-x: auto; }
table.confusion.pickable td { padding: 0; } table.confusion.pickable td button { all: unset; cursor: pointer; display: block; padding: .15rem .35rem; width: 100%; text-align: center; }
table.confusion td.picked { outline: 2px solid var(--fg); outline-offset: -2px; }
table.confusion.pickable td button:focus-visible { outline: 2px solid #0969da; }
.links a { margin-right: 1rem; }
.gallery { display: flex; flex-wrap: wrap; gap: .6rem; margin: .5rem 0 1rem; }
figure.tile { margin: 0; width: 96px; font-size: 12px; overflow-wrap: anywhere; }
figure.tile img, figure.tile .no-image { width: 96px; height: 96px; image-rendering: pixelated; display: block; border: 2px solid var(--good); background: var(--head); }
figure.tile.wrong img, figure.tile.wrong .no-image { border-color: var(--bad); }
figure.tile .no-image { display: flex; align-items: center; justify-content: center; color: var(--muted); }
img.strip { image-rendering: pixelated; height: 64px; }
svg.plot text { font: 11px system-ui, sans-serif; fill: var(--fg); } svg.plot .axis-title { font-weight: 600; }
svg.plot path.line:hover { stroke-width: 5; }
`;
