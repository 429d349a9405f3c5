// certwatch browser companion, end to end in real headless browsers.
//
//   cargo build --workspace --bins && npm --prefix tests/browser ci && node tests/browser/e2e.mjs
//
// For each browser (Chromium via playwright-core, Firefox ESR via
// puppeteer-core over WebDriver BiDi): a throwaway HOME, profile and
// CERTWATCH_HOME; two test CAs trusted in the profile's NSS database; the
// host manifest written by the real `certwatch extension install`; the
// extension loaded from extension-host/webextension; an HTTPS site on
// 127.0.0.1 served first under CA One, then under CA Two. Checks: the first
// visit is recorded with no badge; after the swap the badge shows "!" with a
// warning/critical verdict, and the popup names both CAs; "I trust this
// change" clears the badge. Popup screenshots go to tests/browser/artifacts/.
//
// A missing browser binary (or certutil/openssl) skips that browser with a
// printed reason. Any failure exits non-zero.
//
// Environment: CERTWATCH_BIN_DIR (default target/shipped/debug, else
// target/debug), CHROMIUM_BIN, FIREFOX_BIN, E2E_BROWSERS=chromium,firefox,
// E2E_RUNS=N (repeat each browser N times, for timing statistics).

import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  ARTIFACTS, CA_ONE, CA_TWO, CHROMIUM, CHROMIUM_ID, CLI_BIN, DEADLINE_MS, EXT_DIR, FIREFOX, FIREFOX_PREFS, FIREFOX_UUID, HERE, HOST_BIN,
  assert, history, hostileFrame, loadEnd, log, median, nssdb, poll, startLauncher, startSite, waitIn, which, world,
} from "./lib.mjs";

// --- Chromium ---------------------------------------------------------------

async function runChromium(run) {
  const { chromium } = await import("playwright-core");
  const w = world("chromium");
  nssdb(join(w.home, ".pki/nssdb"), w.pki);
  const udd = join(w.home, ".config/chromium"); // where `extension install` put the manifest
  const site = await startSite({ key: w.pki.one.key, cert: w.pki.one.cert });
  const t = {};
  const launchAt = Date.now();
  const ctx = await chromium.launchPersistentContext(udd, {
    executablePath: CHROMIUM,
    headless: true,
    env: w.env,
    viewport: { width: 480, height: 640 },
    args: [
      `--disable-extensions-except=${EXT_DIR}`, `--load-extension=${EXT_DIR}`, "--no-sandbox", "--disable-gpu",
      "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
  });
  try {
    const sw = ctx.serviceWorkers()[0] ?? (await ctx.waitForEvent("serviceworker", { timeout: 15_000 }));
    await sw.evaluate(() => true); // the worker's top-level code has run
    t.ready = Date.now() - launchAt;
    const page = ctx.pages()[0] ?? (await ctx.newPage());
    const tabId = async () => sw.evaluate(async (u) => (await chrome.tabs.query({})).find((x) => x.url === u)?.id, site.url);
    const stateAfter = (since) =>
      poll("the badge update", async () => {
        const id = await tabId();
        if (id == null) return null;
        const st = await sw.evaluate(async (k) => (await chrome.storage.session.get(k))[k], `tab:${id}`);
        if (!st || st.requestAt < since || !st.badgeAt) return null;
        const badge = await sw.evaluate((i) => chrome.action.getBadgeText({ tabId: i }), id);
        return { ...st, badge, tabId: id };
      });

    // Visit 1: CA One.
    const t0 = Date.now();
    await page.goto(site.url, { waitUntil: "load" });
    const t1 = await loadEnd(page, Date.now());
    const s1 = await stateAfter(t0);
    assert(["ok", "info"].includes(s1.severity), `first visit severity ${s1.severity}: ${JSON.stringify(s1.reply)}`);
    assert(s1.badge === "", `first visit badge ${JSON.stringify(s1.badge)}`);
    const h1 = history(w, site.port);
    assert(h1.sightings.length === 1 && h1.sightings[0].ca.name === CA_ONE, `first sighting recorded: ${JSON.stringify(h1)}`);
    t.load1 = t1 - t0;
    t.badge1 = s1.badgeAt - t1;

    // Visit 2: CA Two.
    await site.swap({ key: w.pki.two.key, cert: w.pki.two.cert });
    const t2 = Date.now();
    await page.goto(site.url, { waitUntil: "load" });
    const t3 = await loadEnd(page, Date.now());
    const s2 = await stateAfter(t2);
    assert(["warning", "critical"].includes(s2.severity), `second visit severity ${s2.severity}`);
    assert(s2.badge === "!", `second visit badge ${JSON.stringify(s2.badge)}`);
    t.load2 = t3 - t2;
    t.badge2 = s2.badgeAt - t3;

    // A hostile page frames the popup (the clickjacking attack): the
    // extension has no web-accessible resource, so nothing of it loads.
    await hostileFrame(page, `chrome-extension://${CHROMIUM_ID}/popup.html`);

    // Popup, opened in a tab of its own: it describes the last used tab.
    const popup = await ctx.newPage();
    await popup.goto(`chrome-extension://${CHROMIUM_ID}/popup.html`);
    await popup.waitForFunction(() => document.querySelectorAll("#history li").length >= 2 && !document.getElementById("ca-before").hidden, null, { timeout: DEADLINE_MS });
    const text = await popup.evaluate(() => document.body.innerText);
    assert(text.includes(CA_ONE) && text.includes(CA_TWO), `popup names both CAs:\n${text}`);
    mkdirSync(ARTIFACTS, { recursive: true });
    await popup.screenshot({ path: join(ARTIFACTS, `chromium-popup${run ? `-${run}` : ""}.png`), fullPage: true });

    // "I trust this change" → accept → badge cleared.
    await popup.click("#accept");
    await poll("badge cleared after accept", async () => (await sw.evaluate((i) => chrome.action.getBadgeText({ tabId: i }), s2.tabId)) === "");
    await popup.waitForFunction(() => document.getElementById("accept-result").textContent.startsWith("Accepted"), null, { timeout: DEADLINE_MS });
    await popup.screenshot({ path: join(ARTIFACTS, `chromium-popup-accepted${run ? `-${run}` : ""}.png`), fullPage: true });

    // Options: the host answers `status`; an ignored site is not checked.
    const opts = await ctx.newPage();
    await opts.goto(`chrome-extension://${CHROMIUM_ID}/options.html`);
    await opts.waitForFunction(() => document.getElementById("host-status").textContent.startsWith("Connected"), null, { timeout: DEADLINE_MS });
    await opts.fill("#ignore", "127.0.0.1\nexample.org");
    await opts.click("#save");
    await opts.waitForFunction(() => document.getElementById("saved").textContent === "Saved.", null, { timeout: DEADLINE_MS });
    await opts.screenshot({ path: join(ARTIFACTS, `chromium-options${run ? `-${run}` : ""}.png`), fullPage: true });
    const before = history(w, site.port).sightings.reduce((n, s) => n + s.count, 0);
    const t4 = Date.now();
    await page.goto(site.url, { waitUntil: "load" });
    const s3 = await poll("ignored state", async () => {
      const st = await sw.evaluate(async (k) => (await chrome.storage.session.get(k))[k], `tab:${s2.tabId}`);
      return st?.ignored && st.at >= t4 ? st : null;
    });
    assert(s3.ignored, "site ignored");
    const after = history(w, site.port).sightings.reduce((n, s) => n + s.count, 0);
    assert(after === before, `an ignored site is not checked (${before} → ${after} observations)`);
    return t;
  } finally {
    await ctx.close().catch(() => {});
    await site.stop();
    rmSync(w.T, { recursive: true, force: true });
  }
}

// --- Firefox ----------------------------------------------------------------

async function runFirefox(run) {
  const puppeteer = (await import("puppeteer-core")).default;
  const w = world("firefox");
  const profile = join(w.T, "profile");
  nssdb(profile, w.pki);
  const site = await startSite({ key: w.pki.one.key, cert: w.pki.one.cert });
  const launcher = await startLauncher();
  const t = {};
  const launchAt = Date.now();
  const browser = await puppeteer.launch({
    browser: "firefox",
    executablePath: FIREFOX,
    headless: true,
    userDataDir: profile,
    env: w.env,
    extraPrefsFirefox: FIREFOX_PREFS,
    defaultViewport: { width: 480, height: 640 },
  });
  try {
    // WebDriver BiDi cannot open an extension page in Firefox, so this run
    // loads a test-only copy whose manifest makes the popup reachable from
    // the launcher page. The shipped manifest has no web-accessible
    // resource (tidy-checked below and exercised by the Chromium run's
    // hostile-frame test).
    const ext = join(w.T, "ext-test");
    cpSync(EXT_DIR, ext, { recursive: true });
    const mf = JSON.parse(readFileSync(join(ext, "manifest.json"), "utf8"));
    mf.content_security_policy = { extension_pages: "script-src 'self'; object-src 'self'" };
    mf.web_accessible_resources = [{ resources: ["popup.html", "popup.js", "popup.css"], matches: ["<all_urls>"] }];
    writeFileSync(join(ext, "manifest.json"), JSON.stringify(mf));
    await browser.installExtension(ext);
    t.ready = Date.now() - launchAt;
    const page = (await browser.pages())[0] ?? (await browser.newPage());
    // A second tab shows the popup for the first (it re-renders on every change).
    const popup = await browser.newPage();
    await popup.goto(launcher.url);
    const popupUrl = `moz-extension://${FIREFOX_UUID}/popup.html`;
    await popup.evaluate((u) => {
      location.href = u;
    }, popupUrl);
    await poll("popup opened", async () => {
      try {
        return (await popup.evaluate(() => location.protocol)) === "moz-extension:";
      } catch {
        return false;
      }
    });
    const stateAfter = async (since) => {
      await waitIn(
        popup,
        (s) => Number(document.body.dataset.requestAt ?? 0) >= s && Number(document.body.dataset.badgeAt ?? 0) > 0 && Boolean(document.body.dataset.severity),
        since,
      );
      return popup.evaluate(() => ({ ...document.body.dataset }));
    };
    const badgeIs = (want) =>
      waitIn(popup, (b) => document.body.dataset.badge === b, want);

    // Visit 1: CA One.
    const t0 = Date.now();
    await page.goto(site.url, { waitUntil: "load" });
    const t1 = await loadEnd(page, Date.now());
    const s1 = await stateAfter(t0);
    assert(["ok", "info"].includes(s1.severity), `first visit severity ${s1.severity}`);
    const h1 = await poll("first sighting recorded", () => {
      const h = history(w, site.port);
      return h.sightings.length === 1 ? h : null;
    });
    assert(h1.sightings[0].ca.name === CA_ONE, `first sighting CA ${h1.sightings[0].ca.name}`);
    t.load1 = t1 - t0;
    t.badge1 = Number(s1.badgeAt) - t1;

    // Visit 2: CA Two.
    await site.swap({ key: w.pki.two.key, cert: w.pki.two.cert });
    const t2 = Date.now();
    await page.goto(site.url, { waitUntil: "load" });
    const t3 = await loadEnd(page, Date.now());
    const s2 = await stateAfter(t2);
    assert(["warning", "critical"].includes(s2.severity), `second visit severity ${s2.severity}`);
    await badgeIs("!");
    t.load2 = t3 - t2;
    t.badge2 = Number(s2.badgeAt) - t3;

    await waitIn(popup, () => document.querySelectorAll("#history li").length >= 2 && !document.getElementById("ca-before").hidden);
    const text = await popup.evaluate(() => document.body.innerText);
    assert(text.includes(CA_ONE) && text.includes(CA_TWO), `popup names both CAs:\n${text}`);
    // The browser's chain (not only the host's probe) was the observation.
    const src = await popup.evaluate(async (k) => {
      const api = globalThis.browser;
      const tabs = await api.tabs.query({});
      const tab = tabs.find((x) => x.url === k);
      const st = (await api.storage.session.get(`tab:${tab.id}`))[`tab:${tab.id}`];
      return { source: st.reply?.result?.source, chain: st.reply?.result?.chain?.length, differs: st.reply?.result?.reasons?.some((r) => r.code === "browser_chain_differs") };
    }, site.url);
    assert(src.source === "browser" && src.chain === 2 && !src.differs, `Firefox sent its chain: ${JSON.stringify(src)}`);
    mkdirSync(ARTIFACTS, { recursive: true });
    await popup.screenshot({ path: join(ARTIFACTS, `firefox-popup${run ? `-${run}` : ""}.png`), fullPage: true });

    await popup.click("#accept");
    await badgeIs("");
    await waitIn(popup, () => document.getElementById("accept-result").textContent.startsWith("Accepted"));
    await popup.screenshot({ path: join(ARTIFACTS, `firefox-popup-accepted${run ? `-${run}` : ""}.png`), fullPage: true });
    return t;
  } finally {
    await browser.close().catch(() => {});
    await site.stop();
    await launcher.stop();
    rmSync(w.T, { recursive: true, force: true });
  }
}

// --- main -------------------------------------------------------------------

async function main() {
  for (const [bin, what] of [[HOST_BIN, "certwatch-host"], [CLI_BIN, "certwatch"]]) {
    if (!existsSync(bin)) {
      console.error(`[e2e] FAIL: ${what} not found at ${bin}: run \`cargo build --workspace --bins\` first (or set CERTWATCH_BIN_DIR)`);
      process.exit(1);
    }
  }
  if (!existsSync(join(HERE, "node_modules"))) {
    console.error(`[e2e] FAIL: ${join(HERE, "node_modules")} missing: run \`npm ci --prefix tests/browser\` first`);
    process.exit(1);
  }
  const shipped = JSON.parse(readFileSync(join(EXT_DIR, "manifest.json"), "utf8"));
  if (shipped.web_accessible_resources || !/frame-ancestors 'none'/.test(shipped.content_security_policy?.extension_pages ?? "")) {
    console.error("[e2e] FAIL: the shipped manifest must have no web_accessible_resources and a CSP with frame-ancestors 'none'");
    process.exit(1);
  }
  const wanted = (process.env.E2E_BROWSERS ?? "chromium,firefox").split(",").map((s) => s.trim());
  const runs = Math.max(1, Number(process.env.E2E_RUNS ?? 1));
  const tools = ["certutil", "openssl"].filter((c) => !which(c));
  const plan = [
    ["chromium", CHROMIUM, runChromium],
    ["firefox", FIREFOX, runFirefox],
  ].filter(([name]) => wanted.includes(name));
  let failed = 0;
  let ran = 0;
  for (const [name, bin, fn] of plan) {
    if (tools.length) {
      log(`skipped ${name}: ${tools.join(", ")} not installed (apt-get install libnss3-tools openssl)`);
      continue;
    }
    if (!existsSync(bin)) {
      log(`skipped ${name}: browser binary ${bin} not found (apt-get install ${name === "firefox" ? "firefox-esr" : "chromium"})`);
      continue;
    }
    const times = [];
    for (let i = 1; i <= runs; i++) {
      const started = Date.now();
      try {
        const t = Object.fromEntries(Object.entries(await fn(runs > 1 ? i : 0)).map(([k, v]) => [k, Math.round(v)]));
        t.total = Date.now() - started;
        times.push(t);
        ran++;
        log(`${name} run ${i}: PASS ${JSON.stringify(t)}`);
      } catch (e) {
        failed++;
        log(`${name} run ${i}: FAIL ${e?.stack ?? e}`);
      }
    }
    if (times.length) {
      const keys = Object.keys(times[0]);
      const m = Object.fromEntries(keys.map((k) => [k, median(times.map((x) => x[k]))]));
      const mx = Object.fromEntries(keys.map((k) => [k, Math.max(...times.map((x) => x[k]))]));
      log(`${name}: ${times.length} passed; median ms ${JSON.stringify(m)}; max ms ${JSON.stringify(mx)}`);
      log(`${name}: page load → badge update: first visit ${m.badge1} ms, CA change ${m.badge2} ms (median)`);
    }
  }
  if (failed) {
    log(`${failed} run(s) failed`);
    process.exit(1);
  }
  log(ran ? "all passed" : "nothing ran (all skipped)");
}

main().catch((e) => {
  console.error("[e2e] FAIL:", e?.stack ?? e);
  process.exit(1);
});
