// certwatch's permanent Firefox install, in a real Firefox ESR, across a
// restart.
//
//   cargo build --workspace --bins && npm --prefix tests/browser ci && node tests/browser/permanent.mjs
//
// A throwaway HOME, profile (trusting the two test CAs) and CERTWATCH_HOME;
// `certwatch extension install --browser firefox --permanent --profile P`
// puts the add-on into P/extensions/ and its block into P/user.js. Firefox
// (puppeteer-core over WebDriver BiDi, no installExtension, no
// about:debugging) starts with P and is closed, then started again with P:
// after that restart the add-on must be active by itself. The test site is
// visited under CA One, then under CA Two: the host records both sightings
// with the chain Firefox received, and the toolbar badge shows "!". Then
// `certwatch extension uninstall --permanent` and a third start: the
// add-on is gone.
//
// Reading the badge needs an extension page in a tab. The shipped package
// has no web-accessible page, and WebDriver BiDi refuses to navigate to
// moz-extension:, so the second start gets the add-on's popup page as a
// command-line URL (opened by Firefox itself, as any start page).
//
// puppeteer writes its own user.js for the run (it restores the profile's
// afterwards), so the preferences of the user.js that certwatch wrote are
// handed to it, over Firefox's own default for the one puppeteer changes
// (extensions.autoDisableScopes=15): Firefox sees what it would see if the
// user started it.
//
// Skips with a printed reason when firefox-esr, certutil or openssl is
// missing. Environment: CERTWATCH_BIN_DIR, FIREFOX_BIN (see lib.mjs).

import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import {
  CA_ONE, CA_TWO, FIREFOX, FIREFOX_PREFS, FIREFOX_UUID, GECKO_ID, HOST_BIN,
  assert, history, log, nssdb, poll, startSite, unbuilt, waitIn, which, world,
} from "./lib.mjs";

// user_pref("name", value); lines of a user.js, as an object.
function userPrefs(text) {
  const out = {};
  for (const line of text.split("\n")) {
    const m = /^\s*user_pref\(\s*"([^"]+)"\s*,\s*(.+?)\s*\)\s*;\s*$/.exec(line);
    if (m) out[m[1]] = JSON.parse(m[2]);
  }
  return out;
}

// What extensions.json (Firefox's add-on database) says of certwatch.
function addon(profile) {
  try {
    const db = JSON.parse(readFileSync(join(profile, "extensions.json"), "utf8"));
    return db.addons.find((a) => a.id === GECKO_ID) ?? null;
  } catch {
    return null;
  }
}

async function run() {
  const puppeteer = (await import("puppeteer-core")).default;
  const w = world("firefox");
  const profile = join(w.T, "profile");
  nssdb(profile, w.pki);
  const t = {};
  const started = Date.now();
  const site = await startSite({ key: w.pki.one.key, cert: w.pki.one.cert });
  let browser;
  try {
    const out = w.cli("extension", "install", "--browser", "firefox", "--permanent", "--profile", profile, "--host-path", HOST_BIN);
    log(`install --permanent said:\n${out.trimEnd()}`);
    const xpi = join(profile, "extensions", `${GECKO_ID}.xpi`);
    const userJs = readFileSync(join(profile, "user.js"), "utf8");
    assert(existsSync(xpi) && out.includes(xpi), `the add-on written and named: ${out}`);
    const prefs = userPrefs(userJs);
    assert(Object.keys(prefs).length > 0, `user.js has certwatch's preferences:\n${userJs}`);
    const launch = (args, extra = {}) =>
      puppeteer.launch({
        browser: "firefox",
        executablePath: FIREFOX,
        headless: true,
        userDataDir: profile,
        env: w.env,
        args,
        extraPrefsFirefox: { ...FIREFOX_PREFS, "extensions.autoDisableScopes": 15, ...extra },
        defaultViewport: { width: 480, height: 640 },
      });

    // Start 1: Firefox finds the add-on in the profile and installs it.
    browser = await launch([], prefs);
    await poll("Firefox installed the add-on", () => addon(profile)?.active === true, 15_000);
    await browser.close();
    browser = null;
    t.first = Date.now() - started;
    assert(readFileSync(join(profile, "user.js"), "utf8") === userJs, "user.js is certwatch's again after the run");

    // Start 2, the restart: the add-on is active by itself.
    const popupUrl = `moz-extension://${FIREFOX_UUID}/popup.html`;
    browser = await launch([popupUrl], prefs);
    const popup = await poll("the add-on's page after the restart", async () => {
      for (const p of await browser.pages()) {
        if (!p.url().startsWith("moz-extension:")) continue;
        try {
          if (await p.evaluate(() => document.readyState === "complete" && Boolean(document.body))) return p;
        } catch {
          // still loading
        }
      }
      return null;
    });
    t.restart = Date.now() - started;
    const page = await browser.newPage();
    // The site tab's state and its real toolbar badge, read through the
    // extension's own API in its page, once the answer to a request made
    // at or after `since` is on the badge and the badge reads `badge`
    // (Firefox clears a tab's badge when the page commits; the extension
    // puts it back).
    const answered = (since, badge) =>
      poll(`the answer to the visit at ${since}, badge ${JSON.stringify(badge)}`, () =>
        popup.evaluate(async ({ u, since, badge }) => {
          const api = globalThis.browser;
          const tab = (await api.tabs.query({})).find((x) => x.url === u);
          if (!tab) return null;
          const st = (await api.storage.session.get(`tab:${tab.id}`))[`tab:${tab.id}`];
          if (!st || st.requestAt < since || !st.badgeAt) return null;
          const shown = await (api.action ?? api.browserAction).getBadgeText({ tabId: tab.id });
          if (shown !== badge) return null;
          return { badge: shown, severity: st.severity, source: st.reply?.result?.source, chain: st.reply?.result?.chain?.length };
        }, { u: site.url, since, badge }),
      );

    // Visit 1: CA One.
    const t0 = Date.now();
    await page.goto(site.url, { waitUntil: "load" });
    const a1 = await answered(t0, "");
    assert(["ok", "info"].includes(a1.severity), `first visit severity ${a1.severity}`);
    assert(a1.source === "browser" && a1.chain === 2 && a1.badge === "", `first visit, Firefox's chain, no badge: ${JSON.stringify(a1)}`);
    const h1 = history(w, site.port);
    assert(h1.sightings.length === 1 && h1.sightings[0].ca.name === CA_ONE, `first sighting: ${JSON.stringify(h1)}`);

    // Visit 2: CA Two.
    await site.swap({ key: w.pki.two.key, cert: w.pki.two.cert });
    const t2 = Date.now();
    await page.goto(site.url, { waitUntil: "load" });
    const a2 = await answered(t2, "!");
    assert(["warning", "critical"].includes(a2.severity), `second visit severity ${a2.severity}`);
    assert(a2.source === "browser" && a2.chain === 2 && a2.badge === "!", `second visit, Firefox's chain, "!": ${JSON.stringify(a2)}`);
    // The popup page shows it too.
    await waitIn(popup, () => document.body.dataset.badge === "!");
    const h2 = history(w, site.port);
    const cas = h2.sightings.map((s) => s.ca.name).sort();
    assert(cas.length === 2 && cas[0] === CA_ONE && cas[1] === CA_TWO, `both sightings: ${JSON.stringify(cas)}`);
    t.change = Date.now() - started;
    log(`after the restart: ${JSON.stringify({ first: a1, change: a2 })}`);
    await browser.close();
    browser = null;

    // Undo, and start 3: Firefox drops the add-on.
    const un = w.cli("extension", "uninstall", "--browser", "firefox", "--permanent", "--profile", profile);
    log(`uninstall --permanent said:\n${un.trimEnd()}`);
    assert(!existsSync(xpi) && !existsSync(join(profile, "user.js")), "the add-on and certwatch's user.js are gone");
    const left = userPrefs(readFileSync(join(profile, "prefs.js"), "utf8"));
    for (const k of Object.keys(prefs)) assert(!(k in left) || left[k] !== prefs[k], `prefs.js still sets ${k}`);
    browser = await launch([]);
    await poll("Firefox dropped the add-on", () => addon(profile) === null, 15_000);
    await browser.close();
    browser = null;
    t.total = Date.now() - started;
    return t;
  } finally {
    if (browser) await browser.close().catch(() => {});
    await site.stop();
    rmSync(w.T, { recursive: true, force: true });
  }
}

async function main() {
  const tools = ["certutil", "openssl"].filter((c) => !which(c));
  if (tools.length) {
    log(`permanent: skipped: ${tools.join(", ")} not installed (apt-get install libnss3-tools openssl)`);
    return;
  }
  if (!existsSync(FIREFOX)) {
    log(`permanent: skipped: ${FIREFOX} not found (apt-get install firefox-esr)`);
    return;
  }
  const missing = unbuilt();
  if (missing.length) {
    console.error(`[e2e] permanent: FAIL: ${missing.join("; ")}`);
    process.exit(1);
  }
  const t = await run();
  log(`permanent: PASS (ms since start: ${JSON.stringify(t)})`);
}

main().catch((e) => {
  console.error("[e2e] permanent: FAIL:", e?.stack ?? e);
  process.exit(1);
});
