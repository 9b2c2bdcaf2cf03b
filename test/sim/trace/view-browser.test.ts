// The trace viewer in a real headless browser (Debian's chromium driven by playwright-core; no browser is
// ever downloaded). A failing and a healthy trace are drawn and loaded from file://: no errors, a lane per
// node, the violation highlighted on the canvas (read back pixel by pixel), arrows once zoomed in, zoom and
// pan by wheel, drag and buttons, hover details, and a screenshot that is a real picture. A mutant of the
// page script that forgets to draw the violation must fail the same highlight check.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { materialize, type Mutant } from '../../../sim/mutants/mutate.ts';
import type { Trace } from '../../../sim/trace/format.ts';
import { renderView } from '../../../sim/trace/view.ts';
import { recordViewTraces } from './view-traces.ts';

const CHROMIUM = '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) console.warn(`view-browser.test.ts: SKIPPED: ${CHROMIUM} is absent (apt-get install chromium; .ci/run installs it)`);

/** What the page's exposed object holds (window.raftsimView). */
interface PageView {
  nodes: string[];
  clients: string[];
  failure: { key: string; windowStart: number; windowEnd: number; blocked: number } | null;
  layout: { gutter: number; width: number; height: number; axis: [number, number]; nodes: Array<{ node: string; y0: number; y1: number }>; clients: Array<{ client: string; y0: number; y1: number }> };
  stats: { arrows: number; messagesInView: number; bars: number; segments: number; faults: number; violation: boolean; frames: number };
  window(): [number, number];
  setWindow(a: number, b: number): void;
  fit(): void;
  zoomToViolation(): void;
  timeToX(t: number): number;
  pixelRatio(): number;
}
declare const window: { raftsimView: PageView };
declare const document: { getElementById(id: string): { getContext(kind: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } } } };

let browser: Browser;
let dir: string;
let failing: Trace;
let healthy: Trace;
const problems: string[] = [];

async function open(html: string, name: string): Promise<Page> {
  const file = join(dir, `${name}.html`);
  writeFileSync(file, html);
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  page.on('console', (m) => void (m.type() === 'error' && problems.push(`${name}: console error: ${m.text()}`)));
  page.on('pageerror', (e) => void problems.push(`${name}: page error: ${e.message}`));
  // Nothing may be fetched: the page is one file.
  page.on('request', (r) => void (r.url() !== pathToFileURL(file).href && !r.url().startsWith('data:') && problems.push(`${name}: fetched ${r.url()}`)));
  await page.goto(pathToFileURL(file).href);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 30_000 });
  return page;
}

declare function requestAnimationFrame(callback: () => void): void;

/** The window and what the page drew, read after the next frame (input is drawn on animation frames). */
const view = (page: Page) =>
  page.evaluate(
    () => new Promise<{ window: [number, number]; stats: PageView['stats'] }>((resolve) => requestAnimationFrame(() => resolve({ window: window.raftsimView.window(), stats: { ...window.raftsimView.stats } }))),
  );

/**
 * Reads the canvas back: strongly red pixels in the axis strip over the failing window (its flag) and on the
 * blocked operation's row (its callout). The highlight is there when both are.
 */
async function violationHighlighted(page: Page): Promise<boolean> {
  const counts = await page.evaluate(() => {
    const v = window.raftsimView;
    const f = v.failure!;
    const r = v.pixelRatio();
    const g = document.getElementById('chart').getContext('2d');
    const red = (x: number, y: number, w: number, h: number): number => {
      const { data } = g.getImageData(Math.floor(x * r), Math.floor(y * r), Math.max(1, Math.ceil(w * r)), Math.max(1, Math.ceil(h * r)));
      let n = 0;
      for (let i = 0; i < data.length; i += 4) if (data[i]! > 180 && data[i + 1]! < 90 && data[i + 2]! < 90) n++;
      return n;
    };
    const xa = v.timeToX(f.windowStart);
    const xb = Math.max(v.timeToX(f.windowEnd), xa + 4);
    const axis = red(xa - 2, 0, xb - xa + 4, v.layout.axis[1]);
    const rows = v.layout.clients.map((c) => red(v.layout.gutter, c.y0 - 2, v.layout.width - v.layout.gutter, c.y1 - c.y0 + 4));
    return { axis, callout: Math.max(...rows) };
  });
  return counts.axis > 20 && counts.callout > 100;
}

describe.skipIf(!haveChromium)('the trace viewer in a browser', () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'raftsim-view-'));
    ({ failing, healthy } = await recordViewTraces());
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });

  afterAll(async () => {
    await browser?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('opens a failing trace on its violation: lanes, the highlight, arrows, and no errors', async () => {
    const page = await open(renderView(failing, { tracePath: 'failing.trace' }).html, 'failing');
    const labels = await page.$$eval('.lane-label.node', (els) => els.map((e) => e.textContent));
    expect(labels).toEqual(['n1', 'n2', 'n3', 'n4', 'n5']);
    expect(await page.$$eval('.lane-label.client', (els) => els.length)).toBe(failing.end.operations.reduce((s, op) => s.add(op.client), new Set<number>()).size);
    expect(await page.textContent('#violation')).toContain(`Key ${failing.end.failure!.key} is not linearizable`);
    const f = failing.end.failure!;
    const opened = await view(page);
    expect(opened.window[0]).toBeLessThanOrEqual(f.windowStart);
    expect(opened.window[1]).toBeGreaterThanOrEqual(f.windowEnd);
    expect(opened.stats.violation).toBe(true);
    expect(opened.stats.segments).toBeGreaterThanOrEqual(5);
    expect(opened.stats.arrows).toBeGreaterThan(0);
    expect(await violationHighlighted(page)).toBe(true);
    expect(problems).toEqual([]);
    await page.close();
  });

  it('zooms and pans with the wheel, a drag and the buttons; messages become arrows only when zoomed in', async () => {
    const page = await open(renderView(healthy, { tracePath: 'healthy.trace' }).html, 'healthy');
    const whole = await view(page);
    expect(whole.window[1] - whole.window[0]).toBeGreaterThanOrEqual(healthy.end.simulatedMs);
    expect(whole.stats.violation).toBe(false);
    expect(await page.$('#violation')).toBeNull();
    const box = (await page.$('#chart'))!;
    const bounds = (await box.boundingBox())!;
    const lane = await page.evaluate(() => window.raftsimView.layout.nodes[1]!);
    // Wheel up over a busy moment (the median delivery): the window narrows around it.
    const deliveries = healthy.events.filter((e) => / deliver .* -> handled$/.test(e.text));
    const busy = deliveries[deliveries.length >> 1]!.time;
    const busyX = await page.evaluate((t) => window.raftsimView.timeToX(t), busy);
    await page.mouse.move(bounds.x + busyX, bounds.y + lane.y0 + 10);
    for (let i = 0; i < 8; i++) await page.mouse.wheel(0, -300);
    await page.waitForFunction(() => window.raftsimView.window()[1] - window.raftsimView.window()[0] < 300);
    const zoomed = await view(page);
    expect(zoomed.window[0]).toBeLessThan(busy);
    expect(zoomed.window[1]).toBeGreaterThan(busy);
    expect(zoomed.stats.arrows).toBeGreaterThan(0);
    expect(zoomed.stats.arrows).toBe(zoomed.stats.messagesInView);
    // Drag to the right: earlier times come into view.
    await page.mouse.move(bounds.x + 600, bounds.y + lane.y0 + 10);
    await page.mouse.down();
    await page.mouse.move(bounds.x + 900, bounds.y + lane.y0 + 10, { steps: 5 });
    await page.mouse.up();
    const dragged = await view(page);
    expect(dragged.window[0]).toBeLessThan(zoomed.window[0]);
    expect(dragged.window[1] - dragged.window[0]).toBeCloseTo(zoomed.window[1] - zoomed.window[0], 6);
    // Hovering a node lane tells its role, term and commit index.
    await page.click('#show-messages');
    await page.mouse.move(bounds.x + 700, bounds.y + lane.y0 + 20);
    expect(await page.textContent('#tip')).toMatch(/n2.*(follower|leader|candidate|down)/s);
    expect(await page.textContent('#tip')).toMatch(/commit index \d+/);
    await page.click('#show-messages');
    await page.click('#fit');
    await page.waitForFunction(() => window.raftsimView.window()[0] <= 0);
    await page.click('#zoom-in');
    await page.click('#zoom-in');
    const buttons = await view(page);
    expect(buttons.window[1] - buttons.window[0]).toBeCloseTo((whole.window[1] - whole.window[0]) / 4, 3);
    expect(problems).toEqual([]);
    await page.close();
  });

  it('draws a big run whole without arrows (too many to see) and with them after zooming in', async () => {
    // A short trace with a low arrow limit behaves as a long run does with the default one.
    const page = await open(renderView(failing, { tracePath: 'failing.trace', maxArrows: 150 }).html, 'failing-fit');
    await page.evaluate(() => window.raftsimView.fit());
    const whole = await view(page);
    expect(whole.stats.arrows).toBe(0);
    expect(whole.stats.messagesInView).toBeGreaterThan(150);
    expect(await page.textContent('#status-text')).toMatch(/zoom in to see them as arrows/);
    await page.click('#toolbar-violation');
    const back = await view(page);
    expect(back.stats.arrows).toBeGreaterThan(0);
    expect(await violationHighlighted(page)).toBe(true);
    expect(problems).toEqual([]);
    await page.close();
  });

  it('takes a screenshot that is a real picture', async () => {
    const page = await open(renderView(failing, { tracePath: 'failing.trace' }).html, 'shot');
    const png = await page.screenshot({ fullPage: true });
    const shot = join(process.env.RAFTSIM_VIEW_SHOT_DIR ?? dir, 'raftsim-view.png');
    writeFileSync(shot, png);
    expect(png.subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a');
    expect(png.length).toBeGreaterThan(50_000);
    // Decode it in the browser and count colours: a blank or single-colour page has a handful.
    const colours = await page.evaluate(`(async () => {
      const img = new Image();
      img.src = 'data:image/png;base64,${png.toString('base64')}';
      await img.decode();
      const g = new OffscreenCanvas(img.width, img.height).getContext('2d');
      g.drawImage(img, 0, 0);
      const { data } = g.getImageData(0, 0, img.width, img.height);
      const seen = new Set();
      for (let i = 0; i < data.length; i += 4 * 7) seen.add((data[i] << 16) | (data[i + 1] << 8) | data[i + 2]);
      return seen.size;
    })()`);
    expect(colours).toBeGreaterThan(200);
    expect(readFileSync(shot).length).toBe(png.length);
    await page.close();
  });

  it('catches a page that forgets to highlight the violation (mutant of the page script)', async () => {
    const forgetful: Mutant = {
      name: 'view-forgets-the-violation',
      description: 'the page script never draws the failing window, its flag or the blocked operation callout',
      edits: [{ file: 'sim/trace/view-page.js', find: '    drawViolation();\n', replace: '' }],
    };
    const copy = materialize(forgetful, { dirs: ['sim', 'core', 'scenarios'] });
    try {
      const mod = await copy.import<{ renderView: typeof renderView }>('sim/trace/view.ts');
      const page = await open(mod.renderView(failing, { tracePath: 'failing.trace' }).html, 'mutant');
      // The page works (no errors, lanes drawn): only the highlight is missing, and the check notices.
      expect((await view(page)).stats.segments).toBeGreaterThan(0);
      expect(problems).toEqual([]);
      expect(await violationHighlighted(page)).toBe(false);
      await page.close();
    } finally {
      copy.remove();
    }
  });
});
