// Screenshots of a finished `syncer demo` folder's two pages (file:// URLs, no server), for a person to look at:
// node tests/browser/shots.mjs DEMO_DIR OUT_DIR  ->  OUT_DIR/demo-{report,landed}-{1280,390}.png
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";
import { resolve } from "node:path";

const [folder, out] = process.argv.slice(2).map((p) => resolve(p));
mkdirSync(out, { recursive: true });
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
});
for (const [name, file] of [["report", "report.html"], ["landed", "demo.html"]]) {
  for (const width of [1280, 390]) {
    const page = await browser.newPage({ viewport: { width, height: 900 } });
    await page.goto(`file://${folder}/${file}`);
    await page.waitForLoadState("networkidle");
    await page.screenshot({ path: `${out}/demo-${name}-${width}.png`, fullPage: true });
    await page.close();
  }
}
await browser.close();
console.log(`screenshots of ${folder} in ${out}`);
