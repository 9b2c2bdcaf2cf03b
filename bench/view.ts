// Benchmark of `raftsim view` on one trace: how big the page is and how long it takes to make and to draw.
// Prints one JSON line:
// - traceBytes, events, deliveries, operations: the input;
// - readMs: reading and checking the trace file; renderMs: making the page (median of --rounds);
// - pageBytes / dataBytes: the page and its embedded data;
// - in Debian's chromium when /usr/bin/chromium exists (else null): loadMs, from navigation to the first frame
//   drawn (median of --rounds page loads), and the median frame times of the whole run in view and of a
//   window zoomed in far enough to draw every message as an arrow (frameMs* measure the page's own draw()).
//
// Run: npx tsx bench/view.ts --trace FILE [--rounds N]
//   (a trace of a 35-second run: bin/raftsim run default --seed 1 --trace big.trace)
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { readTraceFile, TraceError } from '../sim/trace/format.ts';
import { renderView } from '../sim/trace/view.ts';

const CHROMIUM = '/usr/bin/chromium';

function fail(message: string): never {
  console.error(`bench/view: ${message}`);
  process.exit(2);
}

function parseArgs(argv: string[]): { trace: string; rounds: number } {
  let trace: string | undefined;
  let rounds = 5;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--trace') trace = argv[++i] ?? fail('--trace needs a file');
    else if (a === '--rounds') {
      rounds = Number(argv[++i]);
      if (!Number.isInteger(rounds) || rounds <= 0) fail(`--rounds must be a positive integer, got ${argv[i] ?? 'nothing'}`);
    } else fail(`unknown argument ${a} (usage: bench/view.ts --trace FILE [--rounds N])`);
  }
  if (trace === undefined) fail('--trace FILE is required (write one with: bin/raftsim run default --seed 1 --trace big.trace)');
  return { trace, rounds };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(s[s.length >> 1]! * 10) / 10;
};

async function inBrowser(html: string, rounds: number): Promise<{ loadMs: number; frameMsWhole: number; frameMsZoomed: number; arrowsZoomed: number } | null> {
  if (!existsSync(CHROMIUM)) return null;
  const { chromium } = await import('playwright-core');
  const dir = mkdtempSync(join(tmpdir(), 'raftsim-bench-view-'));
  const file = join(dir, 'page.html');
  writeFileSync(file, html);
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const loads: number[] = [];
    const whole: number[] = [];
    const zoomed: number[] = [];
    let arrows = 0;
    for (let r = 0; r < rounds; r++) {
      const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
      await page.goto(pathToFileURL(file).href);
      await page.waitForSelector('body[data-ready="true"]', { timeout: 120_000 });
      loads.push(await page.evaluate('performance.now()') as number);
      const frames = await page.evaluate(`(() => {
        const v = window.raftsimView;
        const time = (a, b) => { v.setWindow(a, b); return v.stats.frameMs; };
        const end = v.window()[1];
        const out = { whole: [], zoomed: [], arrows: 0 };
        for (let i = 0; i < 5; i++) out.whole.push(time(0, end + i * 1e-6));
        // The densest stretch of the run that still draws arrows: 50 ms windows across the run.
        for (let i = 0; i < 5; i++) { const a = (end * (i + 1)) / 7; out.zoomed.push(time(a, a + 50)); out.arrows = Math.max(out.arrows, v.stats.arrows); }
        return out;
      })()`) as { whole: number[]; zoomed: number[]; arrows: number };
      whole.push(...frames.whole);
      zoomed.push(...frames.zoomed);
      arrows = Math.max(arrows, frames.arrows);
      await page.close();
    }
    return { loadMs: median(loads), frameMsWhole: median(whole), frameMsZoomed: median(zoomed), arrowsZoomed: arrows };
  } finally {
    await browser.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const { trace: path, rounds } = parseArgs(process.argv.slice(2));
let started = performance.now();
let trace;
try {
  trace = readTraceFile(path);
} catch (err) {
  if (err instanceof TraceError) fail(err.message);
  throw err;
}
const readMs = Math.round(performance.now() - started);
const renders: number[] = [];
let view = renderView(trace, { tracePath: path });
for (let r = 0; r < rounds; r++) {
  started = performance.now();
  view = renderView(trace, { tracePath: path });
  renders.push(performance.now() - started);
}
const browser = await inBrowser(view.html, rounds);
console.log(
  JSON.stringify({
    bench: 'view',
    traceBytes: statSync(path).size,
    events: trace.events.length,
    deliveries: view.data.messages.total,
    embeddedMessages: view.data.messages.embedded,
    operations: view.data.ops.id.length,
    readMs,
    renderMs: median(renders),
    pageBytes: view.bytes,
    dataBytes: view.dataBytes,
    browser,
  }),
);
