// The live page in a real browser: Debian's Chromium, driven by
// playwright-core (tests/integration/page_test.cpp runs this).
//
//   node live_page.js URL SCREENSHOT KILL_PATH KILL_PID NAME...
//
// Opens URL, waits until a row for every NAME shows with its state, reads
// KILL_PATH's restart count on the page, kills KILL_PID with SIGKILL, and
// measures how long the page takes to show one more restart (it must be
// within 2 s). Then clicks KILL_PATH's row for its deaths, and saves a
// screenshot. Prints one JSON object with what it saw; exits 0 if the
// page did all that, 1 if not (the object says why), 3 if there is no
// browser to run.
"use strict";

const fs = require("fs");
const [url, screenshot, killPath, killPid, ...names] = process.argv.slice(2);
const chromium_path = process.env.SEQ_CHROMIUM || "/usr/bin/chromium";

async function main() {
  let chromium;
  try {
    ({ chromium } = require("playwright-core"));
  } catch (e) {
    console.log(JSON.stringify({ unavailable: "playwright-core is not installed: " + e.message }));
    process.exit(3);
  }
  if (!fs.existsSync(chromium_path)) {
    console.log(JSON.stringify({ unavailable: chromium_path + " is not there (Debian's chromium)" }));
    process.exit(3);
  }
  const seen = { names: {}, restarts_before: null, restarts_after: null, ms_to_show: null };
  const browser = await chromium.launch({
    executablePath: chromium_path,
    // Root in CI needs --no-sandbox; the rest keep Chromium off the
    // network it cannot reach here.
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
           "--disable-component-update", "--disable-sync"],
  });
  const fail = async (why) => {
    seen.failure = why;
    try { await page.screenshot({ path: screenshot, fullPage: true }); } catch (_) {}
    console.log(JSON.stringify(seen));
    await browser.close();
    process.exit(1);
  };
  const page = await browser.newPage({ viewport: { width: 1280, height: 760 } });
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(url);
  const row = (path) => page.locator(`tr.child[data-path="${path}"]`);
  for (const name of names) {
    try {
      await row(name).waitFor({ timeout: 5000 });
    } catch (e) {
      return fail("no row for " + name + " within 5 s");
    }
    seen.names[name] = {
      shown: (await row(name).locator(".name").textContent()).trim(),
      state: (await row(name).locator(".state").textContent()).trim(),
    };
  }
  const restarts = async () => Number((await row(killPath).locator(".restarts").textContent()).trim());
  seen.restarts_before = await restarts();
  const killed = Date.now();
  process.kill(Number(killPid), "SIGKILL");
  for (;;) {
    const now = await restarts();
    if (now > seen.restarts_before) {
      seen.restarts_after = now;
      seen.ms_to_show = Date.now() - killed;
      break;
    }
    if (Date.now() - killed > 5000) return fail("the restart count of " + killPath + " did not go up within 5 s");
    await page.waitForTimeout(50);
  }
  // Its details: a click shows its last deaths, this kill among them.
  await row(killPath).click();
  try {
    await page.locator("#deaths").filter({ hasText: "SIGKILL" }).waitFor({ timeout: 3000 });
    seen.deaths = (await page.locator("#deaths").textContent()).trim();
  } catch (e) {
    return fail("clicking " + killPath + " did not show its death by SIGKILL");
  }
  seen.timeline_marks = await page.locator("#marks circle").count();
  await page.screenshot({ path: screenshot, fullPage: true });
  seen.errors = errors;
  console.log(JSON.stringify(seen));
  await browser.close();
  process.exit(errors.length ? 1 : 0);
}

main().catch((e) => {
  console.log(JSON.stringify({ failure: String(e && e.stack || e) }));
  process.exit(1);
});
