// The trace viewer's page script (runs in the browser; sim/trace/view.ts inlines it into the HTML file).
// It draws the run on one canvas: a time axis, the fault band, a lane per node (role and term as colour,
// commit index as a step line, crashes), messages as arrows once zoomed in, and a lane per client with its
// operations as bars. Only what is inside the visible window is drawn (binary searches over time-sorted
// columns), so a 35-second run with 100,000 messages pans at frame rate.
// `window.raftsimView` exposes the window, the layout and what the last frame drew, for tests and for
// poking at a trace from the console.
(function () {
  'use strict';
  const D = JSON.parse(document.getElementById('trace-data').textContent);
  const N = D.nodes.length;
  const ROLE_NAMES = ['follower', 'pre-candidate', 'candidate', 'leader', 'down', 'removed'];
  const ROLE_FILL = ['#e6e9ee', '#fbe6a2', '#f6ad5f', '#6cbf6c', '#40444c', '#d8d2e6'];
  const ROLE_TEXT = ['#556', '#665a20', '#5a3208', '#123d12', '#ddd', '#4a4066'];
  const ROLE_DOWN = 4, ROLE_REMOVED = 5;
  // Down and removed lanes name their state alone: the term there is only the last one the node knew.
  const roleLabel = (code, term) => (code === ROLE_DOWN ? 'down' : code === ROLE_REMOVED ? 'removed from the cluster' : ROLE_NAMES[code] + ' · term ' + term);
  const OUTCOMES = ['ok', 'fail', 'info'];
  const OP_FILL = ['#a8d8a8', '#f3b0b0', '#f6dc95'];
  const OP_EDGE = ['#4f9a4f', '#c24a4a', '#b8901c'];
  const DELIVERY = ['handled', 'cut by a partition', 'node down', 'parked (node paused)'];
  const ARROW = ['rgba(40,70,130,0.55)', '#d0342c', '#8a8f98', '#8e5cc4'];
  const FAMILY = { partition: '#3b7ddd', crash: '#2b2f36', pause: '#8e5cc4', clock: '#149c9c', disk: '#9a5b22', network: '#e07b00', membership: '#c0397b' };
  const VIOLATION = '#d62728';
  const MARK_WINDOW = 2, MARK_BLOCKED = 3, MARK_ESSENTIAL = 4;
  const MAX_ARROWS = D.maxArrows;
  const MIN_SPAN = 0.01;

  // ---- decode the columns ----
  const M = D.messages;
  const msgCount = M.recv.length;
  const recv = new Float64Array(msgCount), sent = new Float64Array(msgCount);
  const mFrom = new Uint8Array(msgCount), mTo = new Uint8Array(msgCount), mOutcome = new Uint8Array(msgCount);
  let maxLatency = 0;
  {
    let t = 0;
    for (let i = 0; i < msgCount; i++) {
      t += M.recv[i];
      recv[i] = t / 1000;
      sent[i] = (t - M.latency[i]) / 1000;
      if (M.latency[i] / 1000 > maxLatency) maxLatency = M.latency[i] / 1000;
      const code = M.link[i];
      mTo[i] = code % N;
      mFrom[i] = Math.floor(code / N) % N;
      mOutcome[i] = Math.floor(code / (N * N));
    }
  }
  const O = D.ops;
  const laneCount = D.clients.length;
  /** Longest operation per client lane: the lookback of the binary search for bars overlapping the window. */
  const laneMaxDur = [];
  for (let l = 0; l < laneCount; l++) {
    let m = 0;
    for (let i = O.laneStart[l]; i < O.laneStart[l + 1]; i++) m = Math.max(m, O.ret[i] - O.call[i]);
    laneMaxDur.push(m);
  }
  const opIndexById = new Map();
  for (let i = 0; i < O.id.length; i++) opIndexById.set(O.id[i], i);
  const F = D.failure;
  const prefixPosition = new Map();
  if (F) F.linearized.forEach((id, i) => prefixPosition.set(id, i + 1));

  // ---- elements and layout ----
  const chart = document.getElementById('chart');
  const overview = document.getElementById('overview');
  const labels = document.getElementById('labels');
  const tip = document.getElementById('tip');
  const windowText = document.getElementById('window-text');
  const statusText = document.getElementById('status-text');
  const showMessages = document.getElementById('show-messages');
  const onlyKey = document.getElementById('only-key');
  const ctx = chart.getContext('2d');
  const octx = overview.getContext('2d');

  const GUTTER = 112, RIGHT = 14, AXIS_H = 28, FAULT_ROW_H = 16, NODE_H = 40, GAP = 12;
  const CLIENT_H = laneCount > 40 ? 10 : laneCount > 20 ? 13 : 17;
  const layout = { gutter: GUTTER, width: 0, height: 0, axis: [0, AXIS_H], faults: [0, 0], nodes: [], clients: [] };
  {
    let y = AXIS_H + 6;
    const faultRows = Math.max(D.faultRows, 1);
    layout.faults = [y, y + faultRows * FAULT_ROW_H];
    y += faultRows * FAULT_ROW_H + GAP;
    for (let k = 0; k < N; k++) {
      layout.nodes.push({ node: D.nodes[k], y0: y, y1: y + NODE_H - 4 });
      y += NODE_H;
    }
    y += GAP;
    for (let l = 0; l < laneCount; l++) {
      layout.clients.push({ client: D.clients[l], y0: y, y1: y + CLIENT_H - 2 });
      y += CLIENT_H;
    }
    layout.height = y + 8;
  }

  function addLabel(text, y0, y1, kind, extra) {
    const el = document.createElement('div');
    el.className = 'lane-label ' + kind;
    el.textContent = text;
    el.style.top = y0 + 'px';
    el.style.height = y1 - y0 + 'px';
    el.style.lineHeight = y1 - y0 + 'px';
    el.dataset.lane = kind;
    if (extra) for (const k in extra) el.dataset[k] = extra[k];
    labels.appendChild(el);
    return el;
  }
  addLabel('faults', layout.faults[0], layout.faults[1], 'faults');
  layout.nodes.forEach((r) => addLabel(r.node, r.y0, r.y1, 'node', { node: r.node }));
  layout.clients.forEach((r) => addLabel(r.client, r.y0, r.y1, 'client', { client: r.client }));

  // ---- the visible window ----
  const END = D.simulatedMs;
  let t0 = 0, t1 = END;
  let dpr = 1;
  const stats = { arrows: 0, messagesInView: 0, bars: 0, segments: 0, faults: 0, violation: false, frameMs: 0, frames: 0 };

  function plotWidth() { return layout.width - GUTTER - RIGHT; }
  function x(t) { return GUTTER + ((t - t0) / (t1 - t0)) * plotWidth(); }
  function timeAt(px) { return t0 + ((px - GUTTER) / plotWidth()) * (t1 - t0); }

  function setWindow(a, b) {
    let span = Math.max(b - a, MIN_SPAN);
    const maxSpan = END * 1.1 + 1;
    if (span > maxSpan) span = maxSpan;
    const mid = (a + b) / 2;
    a = mid - span / 2;
    const lo = -END * 0.05, hi = END * 1.05;
    if (a < lo) a = lo;
    if (a + span > hi) a = Math.max(lo, hi - span);
    t0 = a;
    t1 = a + span;
    requestDraw();
  }
  function zoom(factor, atTime) {
    const at = atTime === undefined ? (t0 + t1) / 2 : atTime;
    setWindow(at - (at - t0) * factor, at + (t1 - at) * factor);
  }
  function fit() { setWindow(0, END); }
  function zoomToViolation() {
    if (!D.focus) return;
    setWindow(D.focus[0], D.focus[1]);
  }

  // ---- helpers ----
  /** First index i (stride, offset) of a flat array whose value is > t, i.e. the segment after the one at t. */
  function upperBound(arr, t, stride, offset, lo, hi) {
    lo = lo || 0;
    hi = hi === undefined ? arr.length / stride : hi;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (arr[mid * stride + offset] <= t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
  function lowerBoundTyped(arr, t) {
    let lo = 0, hi = arr.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (arr[mid] < t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
  function fmtMs(t) {
    const span = t1 - t0;
    const digits = span < 0.1 ? 4 : span < 2 ? 3 : span < 50 ? 2 : span < 2000 ? 1 : 0;
    return t.toFixed(digits);
  }
  function niceStep(span, px) {
    const raw = (span / px) * 90;
    const p = Math.pow(10, Math.floor(Math.log10(raw)));
    for (const m of [1, 2, 5, 10]) if (m * p >= raw) return m * p;
    return 10 * p;
  }
  const hatchCache = new Map();
  function hatch(color) {
    if (hatchCache.has(color)) return hatchCache.get(color);
    const c = document.createElement('canvas');
    c.width = c.height = 8;
    const g = c.getContext('2d');
    g.strokeStyle = color;
    g.globalAlpha = 0.4;
    g.lineWidth = 2;
    g.beginPath();
    g.moveTo(-2, 10); g.lineTo(10, -2);
    g.moveTo(6, 10); g.lineTo(10, 6);
    g.moveTo(-2, 2); g.lineTo(2, -2);
    g.stroke();
    const p = ctx.createPattern(c, 'repeat');
    hatchCache.set(color, p);
    return p;
  }
  function clipText(text, maxWidth) {
    if (ctx.measureText(text).width <= maxWidth) return text;
    let lo = 0, hi = text.length;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (ctx.measureText(text.slice(0, mid) + '…').width <= maxWidth) lo = mid;
      else hi = mid - 1;
    }
    return lo > 0 ? text.slice(0, lo) + '…' : '';
  }

  // ---- drawing ----
  function drawAxis() {
    const w = layout.width;
    ctx.fillStyle = '#fafbfc';
    ctx.fillRect(GUTTER, 0, w - GUTTER, AXIS_H);
    ctx.strokeStyle = '#c9ced6';
    ctx.beginPath(); ctx.moveTo(GUTTER, AXIS_H - 0.5); ctx.lineTo(w - RIGHT, AXIS_H - 0.5); ctx.stroke();
    const step = niceStep(t1 - t0, plotWidth());
    ctx.font = '11px system-ui, sans-serif';
    ctx.textAlign = 'center';
    ctx.textBaseline = 'middle';
    for (let t = Math.ceil(t0 / step) * step; t <= t1; t += step) {
      const px = Math.round(x(t)) + 0.5;
      ctx.strokeStyle = '#c9ced6';
      ctx.beginPath(); ctx.moveTo(px, AXIS_H - 6); ctx.lineTo(px, AXIS_H); ctx.stroke();
      ctx.strokeStyle = 'rgba(0,0,0,0.05)';
      ctx.beginPath(); ctx.moveTo(px, AXIS_H); ctx.lineTo(px, layout.height); ctx.stroke();
      const digits = step >= 1 ? 0 : Math.min(4, Math.ceil(-Math.log10(step)));
      const label = t.toFixed(digits);
      const half = ctx.measureText(label).width / 2;
      // A label that would be cut by either edge is left out; its tick stays.
      if (px - half < GUTTER || px + half > w - RIGHT) continue;
      ctx.fillStyle = '#445';
      ctx.fillText(label, px, AXIS_H / 2 - 2);
    }
    ctx.textAlign = 'left';
  }

  function drawFaults() {
    const [fy0] = layout.faults;
    ctx.font = '10px system-ui, sans-serif';
    ctx.textBaseline = 'middle';
    let drawn = 0;
    for (const f of D.faults) {
      if (f.end < t0 || f.start > t1) continue;
      const xa = Math.max(x(f.start), GUTTER);
      const xb = Math.min(x(f.end), layout.width - RIGHT);
      const y = fy0 + f.row * FAULT_ROW_H + 1;
      const h = FAULT_ROW_H - 3;
      const color = FAMILY[f.family];
      drawn++;
      if (f.end === f.start) {
        ctx.fillStyle = color;
        ctx.beginPath();
        ctx.moveTo(xa, y); ctx.lineTo(xa + 5, y + h / 2); ctx.lineTo(xa, y + h); ctx.lineTo(xa - 5, y + h / 2);
        ctx.fill();
        ctx.fillStyle = '#333';
        ctx.fillText(clipText(f.label, 220), xa + 7, y + h / 2);
        continue;
      }
      ctx.fillStyle = color;
      ctx.globalAlpha = 0.85;
      ctx.fillRect(xa, y, Math.max(xb - xa, 2), h);
      ctx.globalAlpha = 1;
      if (xb - xa > 24) {
        ctx.fillStyle = '#fff';
        ctx.fillText(clipText(f.label + (f.open ? ' (never healed)' : ''), xb - xa - 6), xa + 3, y + h / 2);
      }
    }
    stats.faults = drawn;
  }

  function drawLanes() {
    ctx.font = '11px system-ui, sans-serif';
    ctx.textBaseline = 'middle';
    let segments = 0;
    // The commit index line is scaled to what is visible, so progress shows at any zoom.
    let cmin = Infinity, cmax = -Infinity;
    for (const lane of D.lanes) {
      const c = lane.commits;
      const n = c.length / 2;
      if (n === 0) continue;
      const i0 = Math.max(0, upperBound(c, t0, 2, 0) - 1);
      const i1 = upperBound(c, t1, 2, 0);
      for (let i = i0; i < Math.max(i1, i0 + 1) && i < n; i++) {
        cmin = Math.min(cmin, c[i * 2 + 1]);
        cmax = Math.max(cmax, c[i * 2 + 1]);
      }
    }
    const right = layout.width - RIGHT;
    D.lanes.forEach((lane, k) => {
      const { y0, y1 } = layout.nodes[k];
      const r = lane.roles;
      const n = r.length / 3;
      ctx.fillStyle = '#f4f5f7';
      ctx.fillRect(GUTTER, y0, right - GUTTER, y1 - y0);
      const i0 = Math.max(0, upperBound(r, t0, 3, 0) - 1);
      for (let i = i0; i < n; i++) {
        const ts = r[i * 3];
        if (ts > t1) break;
        const te = i + 1 < n ? r[(i + 1) * 3] : END;
        const xa = Math.max(x(ts), GUTTER), xb = Math.min(x(te), right);
        if (xb < GUTTER) continue;
        const code = r[i * 3 + 1];
        ctx.fillStyle = ROLE_FILL[code];
        ctx.fillRect(xa, y0, Math.max(xb - xa, 1), y1 - y0);
        segments++;
        if (xb - xa > 46) {
          ctx.fillStyle = ROLE_TEXT[code];
          const text = roleLabel(code, r[i * 3 + 2]);
          ctx.fillText(clipText(text, xb - xa - 8), xa + 4, y0 + 9);
        }
      }
      // Commit index: a step line in the lower half of the lane.
      const c = lane.commits;
      const cn = c.length / 2;
      if (cn > 0 && cmax >= cmin) {
        const top = y0 + 17, bottom = y1 - 3;
        const yOf = (v) => (cmax === cmin ? bottom : bottom - ((v - cmin) / (cmax - cmin)) * (bottom - top));
        ctx.strokeStyle = 'rgba(30,40,70,0.65)';
        ctx.lineWidth = 1.25;
        ctx.beginPath();
        const j0 = Math.max(0, upperBound(c, t0, 2, 0) - 1);
        let started = false, lastY = 0;
        for (let j = j0; j < cn; j++) {
          const tj = c[j * 2];
          if (c[j * 2] > t1) break;
          const px = Math.max(x(tj), GUTTER);
          const py = yOf(c[j * 2 + 1]);
          if (!started) { ctx.moveTo(px, py); started = true; } else { ctx.lineTo(px, lastY); ctx.lineTo(px, py); }
          lastY = py;
        }
        if (started) ctx.lineTo(Math.min(x(END), right), lastY);
        ctx.stroke();
        ctx.lineWidth = 1;
        // The commit index at the right edge of the view.
        const at = Math.max(0, upperBound(c, t1, 2, 0) - 1);
        if (c[at * 2] <= t1) {
          ctx.fillStyle = '#334';
          ctx.textAlign = 'right';
          ctx.font = '10px system-ui, sans-serif';
          ctx.fillText('commit ' + c[at * 2 + 1], right - 3, y1 - 8);
          ctx.textAlign = 'left';
          ctx.font = '11px system-ui, sans-serif';
        }
      }
      // Crashes and restarts.
      const m = lane.marks;
      for (let i = 0; i < m.length; i += 2) {
        if (m[i] < t0 || m[i] > t1) continue;
        const px = x(m[i]);
        ctx.strokeStyle = m[i + 1] === 0 ? '#c0392b' : '#1e8e3e';
        ctx.lineWidth = 2;
        ctx.beginPath();
        if (m[i + 1] === 0) {
          ctx.moveTo(px - 4, y0 + 2); ctx.lineTo(px + 4, y0 + 10); ctx.moveTo(px + 4, y0 + 2); ctx.lineTo(px - 4, y0 + 10);
        } else {
          ctx.moveTo(px, y0 + 1); ctx.lineTo(px, y1 - 1);
        }
        ctx.stroke();
        ctx.lineWidth = 1;
      }
    });
    stats.segments = segments;
  }

  /** Each fault shades the lanes of the nodes it hits (crashes show as the lane going dark instead). */
  function drawFaultShading() {
    ctx.font = '10px system-ui, sans-serif';
    ctx.textBaseline = 'middle';
    const right = layout.width - RIGHT;
    for (const f of D.faults) {
      if (f.family === 'crash' || f.end < t0 || f.start > t1) continue;
      const xa = Math.max(x(f.start), GUTTER), xb = Math.min(x(f.end), right);
      const color = FAMILY[f.family];
      f.nodes.forEach((k, j) => {
        const { y0, y1 } = layout.nodes[k];
        if (f.end === f.start) {
          ctx.strokeStyle = color;
          ctx.lineWidth = 2;
          ctx.beginPath(); ctx.moveTo(xa, y0); ctx.lineTo(xa, y1); ctx.stroke();
          ctx.lineWidth = 1;
          return;
        }
        ctx.fillStyle = hatch(color);
        ctx.fillRect(xa, y0 + 18, Math.max(xb - xa, 2), y1 - y0 - 18);
        ctx.fillStyle = color;
        ctx.fillRect(xa, y1 - 3, Math.max(xb - xa, 2), 3);
        const role = f.roles[j];
        if (role && xb - xa > 30) {
          ctx.fillStyle = color;
          ctx.font = 'bold 10px system-ui, sans-serif';
          ctx.fillText(clipText(role, xb - xa - 6), xa + 3, y1 - 10);
          ctx.font = '10px system-ui, sans-serif';
        }
      });
    }
  }

  function laneCenter(k) {
    const r = layout.nodes[k];
    return (r.y0 + r.y1) / 2 + 4;
  }

  /** The index range of messages that may be visible: delivered after t0, sent before t1. */
  function messageRange() {
    const a = lowerBoundTyped(recv, t0);
    const b = lowerBoundTyped(recv, t1 + maxLatency + 1e-9);
    return [a, b];
  }

  let drawnArrows = [];
  function drawMessages() {
    drawnArrows = [];
    stats.arrows = 0;
    const [a, b] = messageRange();
    let inView = 0;
    for (let i = a; i < b; i++) if (sent[i] <= t1) inView++;
    stats.messagesInView = inView;
    if (!showMessages.checked || inView === 0 || inView > MAX_ARROWS) return;
    for (let i = a; i < b; i++) {
      if (sent[i] > t1) continue;
      const xa = x(sent[i]), ya = laneCenter(mFrom[i]);
      const xb = x(recv[i]), yb = laneCenter(mTo[i]);
      const o = mOutcome[i];
      ctx.strokeStyle = ARROW[o];
      ctx.fillStyle = ARROW[o];
      ctx.lineWidth = o === 0 ? 1 : 1.5;
      if (o === 1) ctx.setLineDash([4, 3]);
      ctx.beginPath(); ctx.moveTo(xa, ya); ctx.lineTo(xb, yb); ctx.stroke();
      ctx.setLineDash([]);
      const ang = Math.atan2(yb - ya, xb - xa);
      ctx.beginPath();
      ctx.moveTo(xb, yb);
      ctx.lineTo(xb - 7 * Math.cos(ang - 0.4), yb - 7 * Math.sin(ang - 0.4));
      ctx.lineTo(xb - 7 * Math.cos(ang + 0.4), yb - 7 * Math.sin(ang + 0.4));
      ctx.fill();
      ctx.beginPath(); ctx.arc(xa, ya, 1.8, 0, 2 * Math.PI); ctx.fill();
      drawnArrows.push(i);
    }
    ctx.lineWidth = 1;
    stats.arrows = drawnArrows.length;
  }

  function drawOps() {
    const right = layout.width - RIGHT;
    const dimOthers = onlyKey && onlyKey.checked && F;
    const failKey = F ? D.keys.indexOf(F.key) : -1;
    ctx.font = (CLIENT_H > 12 ? 10 : 8) + 'px system-ui, sans-serif';
    ctx.textBaseline = 'middle';
    let bars = 0;
    for (let l = 0; l < laneCount; l++) {
      const { y0, y1 } = layout.clients[l];
      ctx.fillStyle = l % 2 ? '#fbfbfc' : '#f5f6f8';
      ctx.fillRect(GUTTER, y0 - 1, right - GUTTER, y1 - y0 + 2);
      const lo = O.laneStart[l], hi = O.laneStart[l + 1];
      const from = upperBound(O.call, t0 - laneMaxDur[l] - 1e-9, 1, 0, lo, hi);
      let lastPx = -1;
      for (let i = from; i < hi; i++) {
        const call = O.call[i];
        if (call > t1) break;
        const ret = O.ret[i];
        if (ret < t0) continue;
        const xa = Math.max(x(call), GUTTER - 2), xb = Math.min(x(ret), right + 2);
        const mark = O.mark[i];
        const w = Math.max(xb - xa, mark === 0 ? 2 : 5);
        // Zoomed out, thousands of bars share a pixel column: draw one per column unless it matters.
        if (w < 1.5 && Math.floor(xa) === lastPx && mark === 0 && O.outcome[i] === 0) continue;
        lastPx = Math.floor(xa);
        bars++;
        const o = O.outcome[i];
        ctx.globalAlpha = dimOthers && O.key[i] !== failKey ? 0.2 : 1;
        ctx.fillStyle = mark % MARK_ESSENTIAL === MARK_BLOCKED ? '#f58f8f' : OP_FILL[o];
        ctx.fillRect(xa, y0, w, y1 - y0);
        if (o === 2) {
          ctx.fillStyle = hatch('#a07a10');
          ctx.fillRect(xa, y0, w, y1 - y0);
        }
        if (w > 4) {
          ctx.strokeStyle = OP_EDGE[o];
          ctx.strokeRect(xa + 0.5, y0 + 0.5, w - 1, y1 - y0 - 1);
        }
        if (mark !== 0) drawOpMark(i, mark, xa, w, y0, y1);
        if (w > 28) {
          ctx.fillStyle = '#222';
          const pos = prefixPosition.get(O.id[i]);
          const text = (pos !== undefined ? pos + ' ' : '') + O.label[i];
          ctx.fillText(clipText(text, w - 6), xa + 3, (y0 + y1) / 2 + 0.5);
        }
        ctx.globalAlpha = 1;
      }
    }
    stats.bars = bars;
  }

  function drawOpMark(i, mark, xa, w, y0, y1) {
    const kind = mark % MARK_ESSENTIAL;
    if (kind === MARK_BLOCKED) {
      ctx.strokeStyle = VIOLATION;
      ctx.lineWidth = 3;
      ctx.strokeRect(xa - 1, y0 - 1, Math.max(w, 3) + 2, y1 - y0 + 2);
    } else if (kind === MARK_WINDOW) {
      ctx.strokeStyle = '#e08a00';
      ctx.lineWidth = 2;
      ctx.strokeRect(xa, y0, w, y1 - y0);
    }
    if (mark >= MARK_ESSENTIAL) {
      ctx.strokeStyle = VIOLATION;
      ctx.lineWidth = 2;
      ctx.setLineDash([3, 2]);
      ctx.strokeRect(xa + 1, y0 + 1, Math.max(w - 2, 1), y1 - y0 - 2);
      ctx.setLineDash([]);
    }
    ctx.lineWidth = 1;
  }

  /** The failing window, shaded across every lane and flagged on the axis. */
  function drawViolation() {
    stats.violation = false;
    if (!F || F.windowEnd < t0 || F.windowStart > t1) return;
    const xa = x(F.windowStart), xb = x(F.windowEnd);
    const w = Math.max(xb - xa, 4);
    const left = w === 4 ? (xa + xb) / 2 - 2 : xa;
    ctx.fillStyle = 'rgba(214,39,40,0.10)';
    ctx.fillRect(left, AXIS_H, w, layout.height - AXIS_H);
    ctx.strokeStyle = VIOLATION;
    ctx.setLineDash([5, 4]);
    ctx.beginPath();
    ctx.moveTo(left + 0.5, AXIS_H); ctx.lineTo(left + 0.5, layout.height);
    ctx.moveTo(left + w - 0.5, AXIS_H); ctx.lineTo(left + w - 0.5, layout.height);
    ctx.stroke();
    ctx.setLineDash([]);
    ctx.fillStyle = VIOLATION;
    ctx.fillRect(left, AXIS_H - 6, w, 6);
    ctx.beginPath();
    ctx.moveTo(left + w / 2 - 6, 0); ctx.lineTo(left + w / 2 + 6, 0); ctx.lineTo(left + w / 2, 10);
    ctx.fill();
    ctx.font = 'bold 11px system-ui, sans-serif';
    ctx.textBaseline = 'middle';
    const text = 'not linearizable: ' + F.key;
    const tw = ctx.measureText(text).width;
    const tx = left + w + 8 + tw < layout.width - RIGHT ? left + w + 8 : left - tw - 8;
    ctx.fillStyle = 'rgba(255,255,255,0.85)';
    ctx.fillRect(tx - 3, AXIS_H + 1, tw + 6, 15);
    ctx.fillStyle = VIOLATION;
    ctx.fillText(text, tx, AXIS_H + 9);
    drawBlockedCallout();
    stats.violation = true;
  }

  /** Names the operation that could not be placed next to its bar, which may be a sliver (a local read). */
  function drawBlockedCallout() {
    const i = opIndexById.get(F.blocked);
    if (i === undefined) return;
    let l = 0;
    while (O.laneStart[l + 1] <= i) l++;
    const { y0, y1 } = layout.clients[l];
    const xa = x(O.call[i]), xb = Math.max(x(O.ret[i]), xa + 5);
    ctx.font = 'bold 11px system-ui, sans-serif';
    ctx.textBaseline = 'middle';
    const member = O.member[i];
    const text = '✖ #' + F.blocked + ' ' + O.label[i] + (member >= 0 ? ' (answered by ' + D.nodes[member] + ')' : '') + ' could not be placed';
    // A dashed line up to the member that answered: its lane shows what it knew then.
    if (member >= 0) {
      const node = layout.nodes[member];
      ctx.strokeStyle = VIOLATION;
      ctx.setLineDash([3, 3]);
      ctx.beginPath(); ctx.moveTo(xb, y0); ctx.lineTo(xb, node.y1 - 6); ctx.stroke();
      ctx.setLineDash([]);
      ctx.fillStyle = VIOLATION;
      ctx.beginPath(); ctx.arc(xb, node.y1 - 6, 3.5, 0, 2 * Math.PI); ctx.fill();
    }
    const tw = ctx.measureText(text).width;
    const tx = xb + 10 + tw < layout.width - RIGHT ? xb + 10 : xa - tw - 10;
    const ym = (y0 + y1) / 2;
    ctx.fillStyle = 'rgba(255,255,255,0.92)';
    ctx.fillRect(tx - 4, ym - 8, tw + 8, 16);
    ctx.strokeStyle = VIOLATION;
    ctx.strokeRect(tx - 4.5, ym - 8.5, tw + 9, 17);
    ctx.fillStyle = VIOLATION;
    ctx.fillText(text, tx, ym + 0.5);
  }

  function drawGutter() {
    ctx.fillStyle = '#fff';
    ctx.fillRect(0, 0, GUTTER, layout.height);
    ctx.strokeStyle = '#d5d9e0';
    ctx.beginPath(); ctx.moveTo(GUTTER - 0.5, 0); ctx.lineTo(GUTTER - 0.5, layout.height); ctx.stroke();
    ctx.fillStyle = '#778';
    ctx.font = '11px system-ui, sans-serif';
    ctx.textBaseline = 'middle';
    ctx.fillText('simulated ms', 8, AXIS_H / 2 - 2);
  }

  let pending = false;
  function requestDraw() {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => { pending = false; draw(); });
  }

  function resize() {
    const w = chart.parentElement.clientWidth;
    // A page being laid out (or printed, or screenshot) can report no width for a moment: keep the last size.
    if (!(w > 0)) return;
    dpr = window.devicePixelRatio || 1;
    layout.width = w;
    chart.style.width = w + 'px';
    chart.style.height = layout.height + 'px';
    chart.width = Math.round(w * dpr);
    chart.height = Math.round(layout.height * dpr);
    overview.style.width = w + 'px';
    overview.width = Math.round(w * dpr);
    overview.height = Math.round(36 * dpr);
    overviewImage = null;
    requestDraw();
  }

  function draw() {
    const started = performance.now();
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, layout.width, layout.height);
    ctx.save();
    ctx.beginPath();
    ctx.rect(GUTTER, 0, plotWidth(), layout.height);
    ctx.clip();
    drawAxis();
    drawFaults();
    drawLanes();
    drawFaultShading();
    drawOps();
    drawMessages();
    drawViolation();
    ctx.restore();
    drawGutter();
    drawOverview();
    updateText();
    stats.frameMs = performance.now() - started;
    stats.frames++;
  }

  // ---- the overview: the whole run, with the visible window outlined ----
  /** The whole run drawn once into an offscreen canvas; each frame copies it and outlines the window. */
  let overviewImage = null;
  function drawOverview() {
    const w = layout.width;
    const H = 36;
    const ox = (t) => GUTTER + (t / END) * (w - GUTTER - RIGHT);
    if (overview.width === 0 || overview.height === 0) return;
    if (overviewImage === null || overviewImage.width !== overview.width || overviewImage.height !== overview.height) {
      overviewImage = document.createElement('canvas');
      overviewImage.width = overview.width;
      overviewImage.height = overview.height;
      const g = overviewImage.getContext('2d');
      g.setTransform(dpr, 0, 0, dpr, 0, 0);
      g.fillStyle = '#556';
      g.font = '10px system-ui, sans-serif';
      g.textBaseline = 'middle';
      g.fillText('whole run', 8, H / 2);
      const strip = Math.max(2, Math.floor((H - 10) / N));
      D.lanes.forEach((lane, k) => {
        const r = lane.roles;
        for (let i = 0; i < r.length; i += 3) {
          const te = i + 3 < r.length ? r[i + 3] : END;
          g.fillStyle = ROLE_FILL[r[i + 1]];
          g.fillRect(ox(r[i]), 2 + k * strip, Math.max(ox(te) - ox(r[i]), 1), strip - 1);
        }
      });
      for (const f of D.faults) {
        g.fillStyle = FAMILY[f.family];
        g.fillRect(ox(f.start), H - 7, Math.max(ox(f.end) - ox(f.start), 2), 4);
      }
      if (F) {
        g.fillStyle = VIOLATION;
        g.fillRect(ox((F.windowStart + F.windowEnd) / 2) - 1.5, 0, 3, H);
      }
    }
    octx.setTransform(1, 0, 0, 1, 0, 0);
    octx.clearRect(0, 0, overview.width, overview.height);
    octx.drawImage(overviewImage, 0, 0);
    octx.setTransform(dpr, 0, 0, dpr, 0, 0);
    const xa = Math.max(ox(t0), GUTTER), xb = Math.min(ox(t1), w - RIGHT);
    octx.fillStyle = 'rgba(40,90,200,0.12)';
    octx.fillRect(xa, 0, Math.max(xb - xa, 2), H);
    octx.strokeStyle = '#2857c5';
    octx.lineWidth = 1.5;
    octx.strokeRect(xa, 0.75, Math.max(xb - xa, 2), H - 1.5);
    octx.lineWidth = 1;
  }

  function updateText() {
    windowText.textContent = 'showing ' + fmtMs(Math.max(t0, 0)) + ' – ' + fmtMs(Math.min(t1, END)) + ' ms (' + fmtMs(t1 - t0) + ' ms of ' + END.toFixed(0) + ')';
    let s;
    if (!M.sendTimes) s = M.total > 0 ? 'this trace has no send times (written by an older raftsim): no message arrows' : 'no messages';
    else if (!showMessages.checked) s = stats.messagesInView + ' messages in view (arrows off)';
    else if (stats.messagesInView > MAX_ARROWS) s = stats.messagesInView.toLocaleString() + ' messages in view: zoom in to see them as arrows (at most ' + MAX_ARROWS + ')';
    else s = stats.arrows + ' message' + (stats.arrows === 1 ? '' : 's') + ' drawn';
    if (M.range && (t1 > M.range[1] || t0 < M.range[0]) && M.embedded < M.total) s += '; messages are embedded for ' + M.range[0].toFixed(0) + '–' + M.range[1].toFixed(0) + ' ms only';
    statusText.textContent = s;
    if (location.protocol !== 'about:') {
      try { history.replaceState(null, '', '#t=' + t0.toFixed(3) + '..' + t1.toFixed(3)); } catch (e) { /* some viewers forbid it */ }
    }
  }

  // ---- hover ----
  function faultsAt(t, slack, node) {
    return D.faults.filter((f) => f.start - slack <= t && t <= f.end + slack && (node === undefined || f.nodes.includes(node)));
  }
  function describeAt(px, py) {
    const t = timeAt(px);
    const slack = (3 * (t1 - t0)) / plotWidth();
    const lines = [];
    if (py >= layout.faults[0] && py < layout.faults[1]) {
      const row = Math.floor((py - layout.faults[0]) / FAULT_ROW_H);
      for (const f of D.faults) {
        if (f.row !== row || f.start - slack > t || t > f.end + slack) continue;
        lines.push('<b>' + esc(f.label) + '</b>');
        lines.push(f.end === f.start ? 'at ' + f.start.toFixed(3) + ' ms' : f.start.toFixed(3) + ' – ' + f.end.toFixed(3) + ' ms' + (f.open ? ' (never recovered)' : ''));
        lines.push('hits ' + f.nodes.map((k, j) => D.nodes[k] + (f.roles[j] ? ' (' + esc(f.roles[j]) + ')' : '')).join(', '));
      }
    }
    const k = layout.nodes.findIndex((r) => py >= r.y0 - 2 && py <= r.y1 + 2);
    if (k >= 0) {
      const best = nearestArrow(px, py);
      if (best >= 0) {
        lines.push('<b>message ' + D.nodes[mFrom[best]] + ' → ' + D.nodes[mTo[best]] + '</b>, ' + M.bytes[best] + ' bytes');
        lines.push('sent ' + sent[best].toFixed(3) + ' ms, delivered ' + recv[best].toFixed(3) + ' ms (' + (recv[best] - sent[best]).toFixed(3) + ' ms): ' + DELIVERY[mOutcome[best]]);
      } else {
        const lane = D.lanes[k];
        const r = lane.roles;
        const i = upperBound(r, t, 3, 0) - 1;
        lines.push('<b>' + D.nodes[k] + '</b>');
        if (i >= 0) {
          const te = i + 1 < r.length / 3 ? r[(i + 1) * 3] : END;
          const code = r[i * 3 + 1];
          lines.push((code === ROLE_DOWN ? 'down (crashed)' : code === ROLE_REMOVED ? 'removed from the cluster' : ROLE_NAMES[code] + ', term ' + r[i * 3 + 2]) + ' from ' + r[i * 3].toFixed(3) + ' to ' + te.toFixed(3) + ' ms');
        } else lines.push('not started');
        const c = lane.commits;
        const j = upperBound(c, t, 2, 0) - 1;
        if (j >= 0) lines.push('commit index ' + c[j * 2 + 1] + ' (since ' + c[j * 2].toFixed(3) + ' ms)');
        for (const f of faultsAt(t, slack, k)) lines.push('<span style="color:' + FAMILY[f.family] + '">■</span> ' + esc(f.label));
      }
    }
    const l = layout.clients.findIndex((r) => py >= r.y0 - 1 && py <= r.y1 + 1);
    if (l >= 0) {
      const i = opAt(l, t, slack);
      if (i >= 0) lines.push(...describeOp(i));
      else lines.push('<b>' + esc(D.clients[l]) + '</b>');
    }
    lines.push('<span class="dim">t = ' + fmtMs(t) + ' ms</span>');
    return lines.join('<br>');
  }
  function describeOp(i) {
    const o = O.outcome[i];
    const out = ['<b>#' + O.id[i] + ' ' + esc(O.label[i]) + '</b>', 'key ' + esc(D.keys[O.key[i]]) + ', ' + (o === 0 ? 'ok' : o === 1 ? 'failed (surely not applied)' : 'indeterminate (may apply any time after its call)')];
    out.push(O.call[i].toFixed(3) + ' – ' + O.ret[i].toFixed(3) + ' ms (' + (O.ret[i] - O.call[i]).toFixed(3) + ' ms)' + (O.member[i] >= 0 ? ' via ' + D.nodes[O.member[i]] : ''));
    const mark = O.mark[i] % MARK_ESSENTIAL;
    const pos = prefixPosition.get(O.id[i]);
    if (mark === MARK_BLOCKED) out.push('<span class="bad">could not be placed: no order of the failing window lets it take effect</span>');
    else if (mark === MARK_WINDOW) out.push('<span class="warn">in the failing window</span>');
    if (pos !== undefined) out.push('position ' + pos + ' of the longest linearizable prefix');
    if (O.mark[i] >= MARK_ESSENTIAL) out.push('<span class="bad">an essential read: with the key\u2019s writes it alone admits no order</span>');
    return out;
  }
  function opAt(l, t, slack) {
    const lo = O.laneStart[l], hi = O.laneStart[l + 1];
    let best = -1, bestDist = Infinity;
    const from = upperBound(O.call, t - laneMaxDur[l] - slack, 1, 0, lo, hi);
    for (let i = from; i < hi && O.call[i] <= t + slack; i++) {
      const d = t < O.call[i] ? O.call[i] - t : t > O.ret[i] ? t - O.ret[i] : 0;
      if (d <= slack && d < bestDist) { best = i; bestDist = d; }
    }
    return best;
  }
  function nearestArrow(px, py) {
    let best = -1, bestD = 5;
    for (const i of drawnArrows) {
      const xa = x(sent[i]), ya = laneCenter(mFrom[i]), xb = x(recv[i]), yb = laneCenter(mTo[i]);
      const dx = xb - xa, dy = yb - ya;
      const len2 = dx * dx + dy * dy || 1;
      const u = Math.max(0, Math.min(1, ((px - xa) * dx + (py - ya) * dy) / len2));
      const d = Math.hypot(xa + u * dx - px, ya + u * dy - py);
      if (d < bestD) { bestD = d; best = i; }
    }
    return best;
  }
  function esc(s) {
    return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
  }

  // ---- input ----
  let drag = null;
  chart.addEventListener('wheel', (e) => {
    e.preventDefault();
    const rect = chart.getBoundingClientRect();
    const px = e.clientX - rect.left;
    const horizontal = Math.abs(e.deltaX) > Math.abs(e.deltaY);
    if (e.shiftKey || horizontal) {
      const d = horizontal ? e.deltaX : e.deltaY;
      const dt = (d / plotWidth()) * (t1 - t0);
      setWindow(t0 + dt, t1 + dt);
    } else {
      zoom(Math.exp(e.deltaY * 0.0015), px > GUTTER ? timeAt(px) : undefined);
    }
  }, { passive: false });
  chart.addEventListener('mousedown', (e) => {
    drag = { x: e.clientX, t0, t1 };
    chart.classList.add('dragging');
  });
  window.addEventListener('mouseup', () => { drag = null; chart.classList.remove('dragging'); });
  window.addEventListener('mousemove', (e) => {
    if (drag) {
      const dt = ((e.clientX - drag.x) / plotWidth()) * (drag.t1 - drag.t0);
      setWindow(drag.t0 - dt, drag.t1 - dt);
      tip.style.display = 'none';
      return;
    }
    const rect = chart.getBoundingClientRect();
    const px = e.clientX - rect.left, py = e.clientY - rect.top;
    if (px < GUTTER || px > layout.width || py < 0 || py > layout.height) { tip.style.display = 'none'; return; }
    tip.innerHTML = describeAt(px, py);
    tip.style.display = 'block';
    const left = px + 16 + tip.offsetWidth > layout.width ? px - tip.offsetWidth - 12 : px + 16;
    tip.style.left = left + 'px';
    tip.style.top = py + 14 + 'px';
  });
  chart.addEventListener('mouseleave', () => { tip.style.display = 'none'; });
  chart.addEventListener('dblclick', (e) => {
    const rect = chart.getBoundingClientRect();
    zoom(e.shiftKey ? 2 : 0.5, timeAt(e.clientX - rect.left));
  });
  let overviewDrag = false;
  function overviewJump(e) {
    const rect = overview.getBoundingClientRect();
    const t = ((e.clientX - rect.left - GUTTER) / (layout.width - GUTTER - RIGHT)) * END;
    const span = t1 - t0;
    setWindow(t - span / 2, t + span / 2);
  }
  overview.addEventListener('mousedown', (e) => { overviewDrag = true; overviewJump(e); });
  window.addEventListener('mouseup', () => { overviewDrag = false; });
  overview.addEventListener('mousemove', (e) => { if (overviewDrag) overviewJump(e); });
  document.getElementById('zoom-in').onclick = () => zoom(0.5);
  document.getElementById('zoom-out').onclick = () => zoom(2);
  document.getElementById('fit').onclick = fit;
  document.getElementById('pan-left').onclick = () => { const d = (t1 - t0) / 3; setWindow(t0 - d, t1 - d); };
  document.getElementById('pan-right').onclick = () => { const d = (t1 - t0) / 3; setWindow(t0 + d, t1 + d); };
  for (const el of document.querySelectorAll('.zoom-violation')) el.onclick = zoomToViolation;
  showMessages.onchange = requestDraw;
  if (onlyKey) onlyKey.onchange = requestDraw;
  window.addEventListener('keydown', (e) => {
    if (e.target instanceof HTMLInputElement) return;
    const d = (t1 - t0) / 5;
    if (e.key === '+' || e.key === '=') zoom(0.5);
    else if (e.key === '-') zoom(2);
    else if (e.key === '0') fit();
    else if (e.key === 'ArrowLeft') setWindow(t0 - d, t1 - d);
    else if (e.key === 'ArrowRight') setWindow(t0 + d, t1 + d);
    else if (e.key === 'v') zoomToViolation();
    else return;
    e.preventDefault();
  });
  window.addEventListener('resize', resize);

  window.raftsimView = {
    nodes: D.nodes.slice(),
    clients: D.clients.slice(),
    failure: F,
    layout,
    stats,
    window: () => [t0, t1],
    setWindow: (a, b) => { setWindow(a, b); draw(); },
    fit: () => { fit(); draw(); },
    zoomToViolation: () => { zoomToViolation(); draw(); },
    timeToX: x,
    /** The canvas's device pixels per CSS pixel. */
    pixelRatio: () => dpr,
  };

  // Open where the trouble is: `#t=a..b` in the address, else the failing window, else the whole run.
  const hash = /^#t=(-?[\d.]+)\.\.(-?[\d.]+)$/.exec(location.hash);
  resize();
  if (hash && Number(hash[2]) > Number(hash[1])) setWindow(Number(hash[1]), Number(hash[2]));
  else if (D.focus) zoomToViolation();
  else fit();
  draw();
  document.body.dataset.ready = 'true';
})();
