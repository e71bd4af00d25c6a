/**
 * The page's stylesheet, inlined into report.html so the file stands alone (it is
 * attached to CI runs and opened from disk, with no server and no network).
 */
import { outcomeColors } from './report-svg.js';

export const reportCss = `
:root { --ok: ${outcomeColors.ok}; --fail: ${outcomeColors.fail}; --info: ${outcomeColors.info}; }
:root { --ink: #1f2328; --muted: #656d76; --line: #d0d7de; --panel: #f6f8fa; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); background: #fff; }
main { max-width: 1320px; margin: 0 auto; padding: 0 24px 48px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 32px 0 8px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
h3 { font-size: 15px; margin: 20px 0 6px; }
code, pre { font: 12.5px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
pre { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; margin: 6px 0; }
pre { overflow-x: auto; white-space: pre-wrap; word-break: break-word; }
pre.detail { margin: 0; padding: 4px 8px; }
.muted { color: var(--muted); }
nav { position: sticky; top: 0; z-index: 2; background: rgba(255,255,255,.94); border-bottom: 1px solid var(--line); padding: 6px 24px; font-size: 13px; }
nav a { color: var(--muted); text-decoration: none; margin-right: 16px; }
nav a:hover { color: var(--ink); }
header.verdict { display: flex; gap: 24px; align-items: center; padding: 20px 24px; margin: 16px 0; border-radius: 10px; border: 2px solid; }
header.verdict.valid { background: #e9f7ef; border-color: var(--ok); }
header.verdict.invalid { background: #fdecec; border-color: var(--fail); }
header.verdict.unknown { background: #fdf5e3; border-color: var(--info); }
.verdict-word { font-size: 44px; font-weight: 800; letter-spacing: 1px; min-width: 230px; }
.valid .verdict-word { color: #1e7a45; }
.invalid .verdict-word { color: #b42323; }
.unknown .verdict-word { color: #9a6b00; }
.verdict-text p { margin: 2px 0; }
.chip { display: inline-block; padding: 1px 8px; margin: 2px 6px 2px 0; border-radius: 10px; font-size: 12px; font-weight: 600; color: #fff; }
.chip.valid { background: var(--ok); }
.chip.invalid { background: var(--fail); }
.chip.unknown { background: var(--info); }
dl.parameters { display: grid; grid-template-columns: max-content 1fr; gap: 3px 18px; margin: 0; }
dl.parameters dt { color: var(--muted); }
dl.parameters dd { margin: 0; }
.outcome-ok { color: #1e7a45; }
.outcome-fail { color: #b42323; }
.outcome-info { color: #9a6b00; }
figure { margin: 8px 0; }
figcaption { color: var(--muted); font-size: 12.5px; margin-top: 4px; }
svg.timeline { width: 100%; height: auto; display: block; }
svg.histogram { width: 640px; max-width: 100%; height: auto; display: block; }
svg text { font: 11px system-ui, sans-serif; fill: var(--ink); }
svg text.tick { fill: var(--muted); font-size: 10.5px; }
svg text.row-label { font-weight: 600; }
svg text.panel-label { fill: var(--muted); font-style: italic; }
svg text.band-label { fill: #fff; font-size: 10.5px; pointer-events: none; }
svg text.bar-count { font-weight: 600; }
svg .grid { stroke: #eaeef2; stroke-width: 1; }
svg .axis { stroke: #8c959f; stroke-width: 1; }
svg .row-track { fill: #f3f4f6; }
svg .band rect { opacity: .9; }
svg .band.unhealed rect { stroke: #000; stroke-dasharray: 3 2; stroke-width: 1; }
svg .band:hover rect { opacity: 1; stroke: #000; stroke-width: 1; }
svg .shading rect { opacity: .08; }
svg .mark { stroke-width: .6; }
svg .mark.ok { fill: var(--ok); stroke: var(--ok); opacity: .45; }
svg .mark.fail { fill: var(--fail); stroke: var(--fail); opacity: .85; }
svg .mark.info { fill: var(--info); stroke: var(--info); opacity: .85; }
svg .mark.fail:hover, svg .mark.info:hover { stroke: #000; stroke-width: 1.5; opacity: 1; }
svg .anomaly-ring { fill: none; stroke: #000; stroke-width: 1.6; }
svg .rate { fill: none; stroke-width: 1.6; stroke-linejoin: round; }
svg .rate.ok { stroke: var(--ok); }
svg .rate.errors { stroke: var(--fail); stroke-width: 1.2; }
svg .bar { fill: #5b7fb0; }
svg .bar:hover { fill: #34568a; }
.legend { display: flex; flex-wrap: wrap; align-items: center; gap: 4px 14px; font-size: 12.5px; margin: 4px 0 8px; }
.legend-title { color: var(--muted); font-weight: 600; margin-left: 8px; }
.legend-item { display: inline-flex; align-items: center; gap: 4px; }
svg.swatch { width: 14px; height: 14px; }
svg.swatch .legend-shape { fill: #57606a; stroke: #57606a; stroke-width: .6; }
.figures .figure { display: inline-block; margin-right: 22px; font-size: 15px; }
table { border-collapse: collapse; width: 100%; margin: 6px 0; font-size: 13px; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #eaeef2; vertical-align: top; }
th { background: var(--panel); font-weight: 600; }
th.number, td.number { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.kind-dot { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 6px; }
section.checker { border-left: 4px solid var(--line); padding: 2px 0 2px 14px; margin: 14px 0; }
section.checker.invalid { border-left-color: var(--fail); }
section.checker.unknown { border-left-color: var(--info); }
section.checker.valid { border-left-color: var(--ok); }
.stats .stat { display: inline-block; margin-right: 16px; color: var(--muted); }
.stats .stat b { color: var(--ink); }
details.anomaly { border: 1px solid var(--line); border-radius: 6px; padding: 6px 10px; margin: 8px 0; }
details.anomaly summary { cursor: pointer; }
.anomaly-type { font-weight: 700; color: #b42323; }
table.operations td code { white-space: pre-wrap; word-break: break-all; }
pre.notes { white-space: pre-wrap; }
table.checks td:first-child { width: 64px; }
table.checks td:nth-child(2) { width: 30%; font-weight: 600; }
`;
