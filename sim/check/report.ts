// A self-contained HTML page explaining why one key's history is not linearizable: operations as bars per
// client on a time axis, the longest linearizable prefix numbered in its order, the failing window shaded and
// the operation that could not be placed in red. Inline CSS and JS only, so the file opens anywhere.
import type { Operation } from './history.ts';
import type { FailureEvidence } from './linearizability.ts';
import type { Model } from './model.ts';
import { formatMs } from './history.ts';

export interface ReportInput<S, I, O> {
  title: string;
  model: Model<S, I, O>;
  /** Every operation of the history (other keys are ignored). */
  ops: Operation<I, O>[];
  failure: FailureEvidence;
}

/** How many linearized operations before the window are drawn for context. */
const CONTEXT_OPS = 12;

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

export function renderReport<S, I, O>(input: ReportInput<S, I, O>): string {
  const { failure, model } = input;
  const keyOps = input.ops.filter((op) => op.key === failure.key);
  const byId = new Map(keyOps.map((op) => [op.id, op]));
  const position = new Map(failure.linearized.map((id, i) => [id, i]));
  const inWindow = new Set(failure.window);
  const essential = new Set(failure.essentialReads ?? []);
  const contextIds = failure.linearized.slice(-CONTEXT_OPS);
  let viewStart = failure.windowStart;
  for (const id of contextIds) viewStart = Math.min(viewStart, byId.get(id)!.call);
  const viewEnd = failure.windowEnd + Math.max(1, (failure.windowEnd - viewStart) * 0.05);
  const shown = keyOps.filter((op) => op.call <= viewEnd && (op.outcome !== 'ok' || op.ret >= viewStart));
  const clients = [...new Set(shown.map((op) => op.client))].sort((a, b) => a - b);
  const span = Math.max(viewEnd - viewStart, 1);
  const pct = (t: number): number => (100 * (Math.min(Math.max(t, viewStart), viewEnd) - viewStart)) / span;
  const output = (op: Operation<I, O>): O | null => (op.outcome === 'ok' ? op.output : null);

  const rows = clients.map((client) => {
    const bars = shown
      .filter((op) => op.client === client)
      .map((op) => {
        const left = pct(op.call);
        const right = op.outcome === 'ok' ? pct(op.ret) : 100;
        const order = position.get(op.id);
        let kind = op.id === failure.blocked ? 'blocked' : order !== undefined ? 'linearized' : inWindow.has(op.id) ? 'window' : 'other';
        if (essential.has(op.id)) kind += ' essential';
        const label = escapeHtml(model.describeOperation(op.input, output(op)));
        const after = order !== undefined ? ` | state after: ${escapeHtml(failure.states[order]!)}` : '';
        const tip = `#${op.id} client ${op.client} ${op.outcome} ${formatMs(op.call)}..${op.outcome === 'ok' ? formatMs(op.ret) : '∞'}: ${label}${after}`;
        return (
          `<div class="bar ${kind}${op.outcome === 'info' ? ' info' : ''}" data-op="${op.id}" title="${tip}" ` +
          `style="left:${left.toFixed(3)}%;width:${Math.max(right - left, 0.4).toFixed(3)}%">` +
          `${order !== undefined ? `<b>${order + 1}</b> ` : ''}${label}</div>`
        );
      })
      .join('');
    return `<div class="row"><div class="client">client ${client}</div><div class="lane">${bars}</div></div>`;
  });

  const windowLeft = pct(failure.windowStart);
  const windowWidth = Math.max(pct(failure.windowEnd) - windowLeft, 0.4);
  const blocked = byId.get(failure.blocked)!;
  const prefixRows = failure.linearized
    .map((id, i) => ({ id, i }))
    .slice(-CONTEXT_OPS * 2)
    .map(({ id, i }) => {
      const op = byId.get(id)!;
      return `<tr data-op="${id}"><td>${i + 1}</td><td>#${id}</td><td>${op.client}</td><td>${escapeHtml(model.describeOperation(op.input, output(op)))}</td><td>${escapeHtml(failure.states[i]!)}</td></tr>`;
    })
    .join('');
  const windowRows = failure.window
    .map((id) => byId.get(id)!)
    .map(
      (op) =>
        `<tr data-op="${op.id}" class="${op.id === failure.blocked ? 'blocked-row' : ''}"><td>#${op.id}</td><td>${op.client}</td><td>${op.outcome}</td><td>${formatMs(op.call)}..${op.outcome === 'ok' ? formatMs(op.ret) : '∞'}</td><td>${escapeHtml(model.describeOperation(op.input, output(op)))}</td><td>${position.has(op.id) ? `prefix #${position.get(op.id)! + 1}` : ''}${essential.has(op.id) ? ' essential read' : ''}</td></tr>`,
    )
    .join('');
  const finalState = failure.states.at(-1) ?? failure.initialState;

  return `<!doctype html>
<html><head><meta charset="utf-8"><title>${escapeHtml(input.title)}</title>
<style>
body{font:13px/1.4 system-ui,sans-serif;margin:16px;color:#222}
h1{font-size:18px} .summary{background:#fff4f4;border-left:4px solid #c33;padding:8px 12px;margin:8px 0 16px}
.axis{display:flex;justify-content:space-between;margin-left:90px;color:#777;font-size:11px}
.chart{position:relative;border:1px solid #ddd;padding:4px 0}
.row{display:flex;height:26px;align-items:center}
.client{width:90px;flex:none;color:#555;font-size:12px;padding-left:4px}
.lane{position:relative;flex:1;height:22px}
.bar{position:absolute;top:1px;height:20px;border-radius:3px;font-size:11px;overflow:hidden;white-space:nowrap;padding:1px 3px;box-sizing:border-box;cursor:pointer}
.linearized{background:#cfe9cf;border:1px solid #5a5}
.window{background:#ffe2b3;border:1px solid #d90}
.other{background:#eee;border:1px solid #bbb;color:#777}
.blocked{background:#f7c6c6;border:2px solid #c33;font-weight:bold}
.essential{box-shadow:0 0 0 2px #c33 inset}
.info{background-image:repeating-linear-gradient(45deg,transparent 0 6px,rgba(0,0,0,.08) 6px 12px)}
.shade{position:absolute;top:0;bottom:0;background:rgba(220,50,50,.07);border-left:1px dashed #c33;border-right:1px dashed #c33;pointer-events:none}
.hl{outline:3px solid #36c;z-index:2} tr.hl td{background:#dde8ff}
table{border-collapse:collapse;margin:8px 0 20px} td,th{border:1px solid #ddd;padding:2px 6px;text-align:left}
.blocked-row td{background:#fbe0e0} .legend span{display:inline-block;padding:0 6px;margin-right:6px;border-radius:3px}
</style></head><body>
<h1>${escapeHtml(input.title)}</h1>
<div class="summary">Key <code>${escapeHtml(JSON.stringify(failure.key))}</code> is not linearizable (model: ${escapeHtml(model.name)}).
The longest linearizable prefix has ${failure.linearized.length} operation(s) and leaves the state at <code>${escapeHtml(finalState)}</code>.
Operation <b>#${blocked.id}</b> (client ${blocked.client}, <code>${escapeHtml(model.describeOperation(blocked.input, output(blocked)))}</code>, ${blocked.call}..${blocked.ret})
must take effect before it returns, and no order of the ${failure.window.length} operation(s) in the failing window ${failure.windowStart}..${failure.windowEnd} lets it.
${failure.essentialReads ? `<br>Proof in small: the key's writes up to ${formatMs(failure.windowEnd)} and only ${failure.essentialReads.length === 1 ? 'the read' : `the ${failure.essentialReads.length} reads`} ${failure.essentialReads.map((id) => `<b>#${id}</b>`).join(', ')} (outlined in red) already admit no order.` : ''}</div>
<div class="legend"><span class="linearized">n = position in the longest linearizable prefix</span><span class="window">in the failing window</span><span class="blocked">could not be placed</span><span class="other">other</span><span class="info">hatched: indeterminate</span><span class="essential">essential read</span></div>
<div class="axis"><span>${viewStart}</span><span>${((viewStart + viewEnd) / 2).toFixed(1)}</span><span>${viewEnd.toFixed(1)}</span></div>
<div class="chart"><div class="shade" style="left:calc(90px + (100% - 90px) * ${(windowLeft / 100).toFixed(5)});width:calc((100% - 90px) * ${(windowWidth / 100).toFixed(5)})"></div>
${rows.join('\n')}
</div>
<h2>Failing window</h2>
<table><tr><th>op</th><th>client</th><th>outcome</th><th>time</th><th>operation</th><th></th></tr>${windowRows}</table>
<h2>End of the longest linearizable prefix</h2>
<p>Initial state: <code>${escapeHtml(failure.initialState)}</code></p>
<table><tr><th>#</th><th>op</th><th>client</th><th>operation</th><th>state after</th></tr>${prefixRows}</table>
<script>
// Clicking a bar or a row highlights that operation everywhere.
document.addEventListener('click', function (e) {
  var el = e.target.closest('[data-op]');
  document.querySelectorAll('.hl').forEach(function (x) { x.classList.remove('hl'); });
  if (!el) return;
  document.querySelectorAll('[data-op="' + el.getAttribute('data-op') + '"]').forEach(function (x) { x.classList.add('hl'); });
});
</script>
</body></html>
`;
}
