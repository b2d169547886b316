// The report's inline stylesheet: one file, no web fonts, readable in print and on screen.
export const REPORT_CSS = `
:root { --ink: #111827; --muted: #4b5563; --line: #e5e7eb; --panel: #f9fafb; --accent: #0072B2;
  --warn-bg: #fff7ed; --warn-line: #c2410c; --ok-bg: #f0fdf4; --ok-line: #15803d; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--ink); background: #fff; font: 15px/1.55 system-ui, -apple-system, "Segoe UI", Roboto,
  "Helvetica Neue", Arial, "DejaVu Sans", sans-serif; }
main { max-width: 1120px; margin: 0 auto; padding: 32px 28px 64px; }
header.top { border-bottom: 1px solid var(--line); padding-bottom: 16px; margin-bottom: 8px; }
h1 { font-size: 28px; line-height: 1.2; margin: 0 0 6px; letter-spacing: -0.01em; }
h2 { font-size: 20px; margin: 40px 0 12px; padding-top: 8px; border-top: 1px solid var(--line); }
h3 { font-size: 16px; margin: 24px 0 8px; }
p { margin: 8px 0; }
.sub { color: var(--muted); font-size: 14px; }
.sub span + span::before { content: "·"; margin: 0 8px; color: #9ca3af; }
nav.toc { font-size: 14px; margin: 12px 0 0; display: flex; flex-wrap: wrap; gap: 6px 16px; }
nav.toc a { color: var(--accent); text-decoration: none; }
nav.toc a:hover { text-decoration: underline; }
code, .mono { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, "DejaVu Sans Mono", monospace; font-size: 13px; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(190px, 1fr)); gap: 12px; margin: 20px 0 8px; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 12px 16px; background: var(--panel); }
.card .k { color: var(--muted); font-size: 13px; }
.card .v { font-size: 26px; font-weight: 650; font-variant-numeric: tabular-nums; }
.card .d { color: var(--muted); font-size: 13px; }
.banner { border: 1px solid; border-left-width: 6px; border-radius: 6px; padding: 12px 16px; margin: 16px 0; }
.banner strong { display: block; font-size: 16px; margin-bottom: 2px; }
.banner.warn { background: var(--warn-bg); border-color: var(--warn-line); }
.banner.ok { background: var(--ok-bg); border-color: var(--ok-line); }
.thumb { image-rendering: pixelated; display: block; max-width: none; }
.gallery { display: flex; flex-wrap: wrap; gap: 12px; margin: 8px 0 16px; }
.mistake { border: 1px solid var(--line); border-radius: 6px; padding: 6px; font-size: 13px; width: 132px; overflow-wrap: anywhere; }
.mistake .thumb { width: 96px; height: auto; margin-bottom: 4px; }
.mistake .k { color: var(--muted); font-size: 12px; }
.banner.info { background: #eff6ff; border-color: #1d4ed8; }
table { border-collapse: collapse; margin: 8px 0 16px; font-size: 14px; font-variant-numeric: tabular-nums; }
th, td { padding: 6px 12px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
thead th { border-bottom: 2px solid #d1d5db; font-weight: 600; color: #374151; background: #fff; }
tbody tr:nth-child(even) { background: var(--panel); }
td.num, th.num { text-align: right; white-space: nowrap; }
td.params { max-width: 520px; overflow-wrap: anywhere; color: #374151; }
.wide { overflow-x: auto; }
.status { display: inline-block; padding: 0 8px; border-radius: 999px; font-size: 12px; font-weight: 600; border: 1px solid; }
.status.cached { color: #1d4ed8; border-color: #93c5fd; background: #eff6ff; }
.status.ran { color: #15803d; border-color: #86efac; background: #f0fdf4; }
.status.failed { color: #b91c1c; border-color: #fca5a5; background: #fef2f2; }
.status.other { color: var(--muted); border-color: var(--line); }
.row { display: flex; flex-wrap: wrap; gap: 8px 32px; align-items: flex-start; }
.row figcaption { max-width: 520px; }
details summary { cursor: pointer; color: var(--accent); font-size: 13px; }
details code { display: block; margin-top: 4px; }
.grid2 { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(440px, 100%), 1fr)); gap: 20px; align-items: start; }
.row > * { min-width: 0; max-width: 100%; }
figure { margin: 8px 0 16px; }
figure svg { max-width: 100%; height: auto; display: block; }
figcaption { color: var(--muted); font-size: 13px; margin-top: 4px; }
.delta-up { color: #b45309; font-weight: 600; }
.notes { color: var(--muted); font-size: 14px; }
footer { margin-top: 48px; color: #6b7280; font-size: 13px; border-top: 1px solid var(--line); padding-top: 12px; }
@media (max-width: 600px) {
  main { padding: 20px 14px 48px; }
  h1 { font-size: 24px; }
  th, td { padding: 5px 8px; }
  .wide { max-width: 100%; }
  /* The table scrolls sideways rather than squeezing params into a column a few letters wide. */
  td.params { min-width: 16em; }
}
@media print { main { padding: 0; } h2 { break-after: avoid; } figure, table { break-inside: avoid; } }
`;
