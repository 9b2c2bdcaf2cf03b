// `raftsim view`: a trace as one self-contained HTML page (inline CSS, script and data; nothing fetched), a
// zoomable timeline of the run. The data comes from view-model.ts, the drawing from view-page.js (a browser
// script inlined as is); a linearizability failure also embeds the checker's own report (sim/check/report.ts)
// for the failing key, so the page explains the violation the same way `raftsim run --report` does.
import { readFileSync } from 'node:fs';
import { etcdModel } from '../check/models/etcd.ts';
import { escapeHtml, renderReport } from '../check/report.ts';
import type { Trace } from './format.ts';
import { viewData, type ViewData, type ViewOptions } from './view-model.ts';

export interface RenderedView {
  html: string;
  data: ViewData;
  /** Bytes of the page and of its embedded data. */
  bytes: number;
  dataBytes: number;
}

const PAGE_SCRIPT_URL = new URL('./view-page.js', import.meta.url);

/** JSON that can sit inside a <script> element: no `<` at all, so neither `</script>` nor `<!--` can occur. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

const fmt = (n: number): string => n.toLocaleString('en-US');

function headerHtml(d: ViewData): string {
  const verdicts = d.verdicts
    .map((v) => `<li class="${v.ok ? 'ok' : 'fail'}"><b>${v.ok ? 'ok' : 'FAIL'}</b> ${escapeHtml(v.summary)}</li>`)
    .join('');
  const meta = [
    d.mutant === null ? 'the real code' : `mutant <b>${escapeHtml(d.mutant)}</b>`,
    `${d.nodes.length} nodes`,
    `${d.clients.filter((c) => c !== 'expiries').length} clients`,
    `${fmt(d.ops.id.length)} operations`,
    `${(d.simulatedMs / 1000).toFixed(1)} s simulated`,
    `${fmt(d.events)} events`,
    `${fmt(d.messages.total)} deliveries`,
    `${d.faults.length} faults`,
    `run hash <code>${d.hash}</code>`,
    `raftsim ${escapeHtml(d.raftsim)}`,
  ].join(' · ');
  const f = d.failure;
  const violation =
    f === null
      ? ''
      : `<div id="violation" class="violation"><b>✖ Key <code>${escapeHtml(f.key)}</code> is not linearizable.</b>
Operation <b>#${f.blocked}</b> (${escapeHtml(f.blockedClient)}, <code>${escapeHtml(f.blockedLabel)}</code>) could not be placed:
the longest linearizable prefix has ${f.linearized.length} operation(s) and leaves the key at <code>${escapeHtml(f.finalState)}</code>, and no order
of the ${f.window.length} operation(s) in the failing window ${f.windowStart.toFixed(3)}–${f.windowEnd.toFixed(3)} ms lets it take effect.
<button class="zoom-violation" type="button">Zoom to the violation</button> <a href="#report">the checker's report ↓</a></div>`;
  const otherFailures = d.verdicts.filter((v) => !v.ok && (f === null || v.checker !== 'linearizability'));
  const others = otherFailures.length === 0 ? '' : `<div class="violation">✖ ${otherFailures.map((v) => escapeHtml(v.summary)).join('<br>✖ ')}</div>`;
  return `<header>
<h1>${escapeHtml(d.title)}</h1>
<div class="meta">${meta}</div>
<div class="expect">scenario expects: ${escapeHtml(d.expect)} — <b class="${d.asExpected ? 'good' : 'bad'}">${d.asExpected ? 'as expected' : 'NOT as expected'}</b></div>
<ul class="verdicts">${verdicts}</ul>
${violation}${others}
<div class="cmd">re-run it event for event: <code>${escapeHtml(d.replay)}</code></div>
</header>`;
}

function legendHtml(d: ViewData): string {
  const roles = [['follower', '#e6e9ee'], ['pre-candidate', '#fbe6a2'], ['candidate', '#f6ad5f'], ['leader', '#6cbf6c'], ['down', '#40444c'], ['removed', '#d8d2e6']];
  const families = [['partition', '#3b7ddd'], ['crash', '#2b2f36'], ['pause', '#8e5cc4'], ['clock', '#149c9c'], ['disk', '#9a5b22'], ['network', '#e07b00'], ['membership', '#c0397b']];
  const sw = (label: string, color: string, extra = ''): string => `<span class="sw" style="background:${color}${extra}"></span>${label}`;
  return `<div class="legend">
<span>nodes: ${roles.map(([l, c]) => sw(l!, c!)).join(' ')} · line: commit index · <span class="x">✕</span> crash</span>
<span>faults: ${families.map(([l, c]) => sw(l!, c!)).join(' ')}</span>
<span>operations: ${sw('ok', '#a8d8a8')} ${sw('failed', '#f3b0b0')} ${sw('indeterminate', '#f6dc95')}${d.failure ? ` · ${sw('could not be placed', '#f58f8f', ';outline:2px solid #d62728')} ${sw('failing window', '#fff', ';outline:2px solid #e08a00')} n = position in the longest linearizable prefix` : ''}</span>
<span>messages: <span class="ln"></span> delivered <span class="ln cut"></span> cut by a partition <span class="ln down"></span> node down</span>
<span class="hint">wheel: zoom · drag or shift+wheel: pan · double-click: zoom in · keys + − 0 ← → v</span>
</div>`;
}

const CSS = `
*{box-sizing:border-box}
body{font:13px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;margin:0;color:#1f2430;background:#fff}
header{padding:12px 18px 6px}
h1{font-size:17px;margin:0 0 4px}
.meta{color:#555}
.expect{margin-top:2px}
.good{color:#1e7b34}.bad{color:#c0262d}
ul.verdicts{list-style:none;padding:0;margin:6px 0;display:flex;flex-wrap:wrap;gap:4px 14px}
ul.verdicts li{max-width:100%;font-size:12px;color:#444}
ul.verdicts li.ok b{color:#1e7b34}
ul.verdicts li.fail{color:#a01d22} ul.verdicts li.fail b{background:#c0262d;color:#fff;padding:0 4px;border-radius:3px}
.violation{background:#fff1f1;border-left:4px solid #d62728;padding:7px 12px;margin:6px 0}
.violation button{margin-left:6px}
.cmd{color:#555;margin:4px 0}
code{background:#f2f3f5;padding:0 3px;border-radius:3px;font-size:12px}
.toolbar{position:sticky;top:0;z-index:5;background:#fff;border-top:1px solid #e3e6ea;border-bottom:1px solid #e3e6ea;padding:6px 18px;display:flex;gap:8px;align-items:center;flex-wrap:wrap}
.toolbar button{font:inherit;padding:2px 9px;border:1px solid #c4c9d2;background:#f7f8fa;border-radius:4px;cursor:pointer}
.toolbar button:hover{background:#eceff3}
.toolbar .zoom-violation{border-color:#d62728;color:#b01f23;background:#fff5f5}
#window-text{font-variant-numeric:tabular-nums;color:#333;margin-left:6px}
#status-text{color:#666}
.plot{padding:4px 18px 0}
#overview{display:block;cursor:pointer;margin-bottom:4px}
.chart-wrap{position:relative}
#chart{display:block;cursor:crosshair}
#chart.dragging{cursor:grabbing}
#labels{position:absolute;left:0;top:0;width:108px;pointer-events:none}
.lane-label{position:absolute;left:6px;right:4px;white-space:nowrap;overflow:hidden;text-overflow:ellipsis;font-size:11px;color:#444}
.lane-label.node{font-weight:600;font-size:13px;color:#1f2430}
.lane-label.faults{color:#777;font-style:italic}
#tip{position:absolute;display:none;z-index:6;background:rgba(255,255,255,.97);border:1px solid #b9bfca;border-radius:5px;box-shadow:0 2px 8px rgba(0,0,0,.15);padding:6px 9px;font-size:12px;max-width:460px;pointer-events:none}
#tip .dim{color:#888} #tip .bad{color:#c0262d} #tip .warn{color:#b86e00}
.legend{padding:6px 18px;display:flex;flex-wrap:wrap;gap:4px 22px;color:#444;font-size:12px}
.sw{display:inline-block;width:12px;height:12px;border-radius:2px;vertical-align:-2px;margin:0 3px 0 6px;border:1px solid rgba(0,0,0,.15)}
.ln{display:inline-block;width:18px;border-top:2px solid rgba(40,70,130,.55);vertical-align:middle;margin:0 3px 0 6px}
.ln.cut{border-top:2px dashed #d0342c}.ln.down{border-top-color:#8a8f98}
.x{color:#c0392b;font-weight:bold}
.hint{color:#777}
section{padding:6px 18px 18px}
details summary{cursor:pointer;font-weight:600;margin:6px 0}
iframe{width:100%;height:640px;border:1px solid #e3e6ea}
footer{padding:8px 18px 16px;color:#777;font-size:12px}
`;

export function renderView(trace: Trace, options: ViewOptions): RenderedView {
  const data = viewData(trace, options);
  const json = scriptJson(data);
  const script = readFileSync(PAGE_SCRIPT_URL, 'utf8');
  const f = data.failure;
  const evidence = trace.end.failure;
  // The report draws every operation the evidence names; a trace whose evidence names operations it does not
  // hold (hand-edited, or damaged past what the reader checks) gets the timeline without it.
  const keyOps = new Set(trace.end.operations.filter((op) => op.key === evidence?.key).map((op) => op.id));
  const reportable = evidence !== null && [evidence.blocked, ...evidence.linearized, ...evidence.window].every((id) => keyOps.has(id)) && evidence.states.length >= evidence.linearized.length;
  const report =
    f === null || evidence === null || !reportable
      ? ''
      : `<section id="report"><details open><summary>Why key ${escapeHtml(f.key)} is not linearizable: the checker's report (its failing window and the end of the longest linearizable prefix)</summary>
<iframe title="linearizability report" srcdoc="${escapeHtml(renderReport({ title: `${data.title}: key ${f.key}`, model: etcdModel, ops: trace.end.operations, failure: evidence }))}"></iframe></details></section>`;
  const m = data.messages;
  const messageNote = !m.sendTimes
    ? `${fmt(m.total)} deliveries, none drawable (the trace predates send times)`
    : m.embedded === m.total
      ? `all ${fmt(m.total)} deliveries embedded`
      : `${fmt(m.embedded)} of ${fmt(m.total)} deliveries embedded (${m.range![0].toFixed(0)}–${m.range![1].toFixed(0)} ms, nearest the ${f ? 'violation' : 'start'}; raftsim view --max-messages N changes the budget)`;
  const page = (footer: string): string => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(data.title)}</title>
<style>${CSS}</style></head><body>
${headerHtml(data)}
<div class="toolbar">
<button id="zoom-in" type="button" title="zoom in (+)">+</button><button id="zoom-out" type="button" title="zoom out (−)">−</button>
<button id="pan-left" type="button" title="pan left (←)">←</button><button id="pan-right" type="button" title="pan right (→)">→</button>
<button id="fit" type="button" title="the whole run (0)">whole run</button>
${f ? '<button id="toolbar-violation" class="zoom-violation" type="button" title="zoom to the failing window (v)">violation</button>' : ''}
<label><input type="checkbox" id="show-messages" checked> message arrows</label>
${f ? `<label><input type="checkbox" id="only-key"> dim keys other than <code>${escapeHtml(f.key)}</code></label>` : ''}
<span id="window-text"></span><span id="status-text"></span>
</div>
<div class="plot"><canvas id="overview" height="36"></canvas>
<div class="chart-wrap"><canvas id="chart"></canvas><div id="labels"></div><div id="tip"></div></div></div>
${legendHtml(data)}
${report}
<footer>${footer}</footer>
<script id="trace-data" type="application/json">${json}</script>
<script>${script}</script>
</body></html>
`;
  const dataBytes = Buffer.byteLength(json);
  // The footer states the page's own size, which depends on the footer: settle it in two passes.
  const note = (bytes: number): string => `raftsim view · ${messageNote} · page ${(bytes / 1e6).toFixed(2)} MB, of which data ${(dataBytes / 1e6).toFixed(2)} MB`;
  let html = page(note(0));
  html = page(note(Buffer.byteLength(html)));
  return { html, data, bytes: Buffer.byteLength(html), dataBytes };
}
