// The daemon as the browser companion's hub, end to end in real Chromium:
//
//   cargo build --workspace --all-targets && npm --prefix tests/browser ci && node tests/browser/hub.mjs
//
// A private D-Bus session bus with the test notification server
// (target/debug/notify-server, which records every Notify call), the real
// certwatchd on a throwaway CERTWATCH_HOME, and Chromium with the extension
// and the real native host. The site is first served under CA One (a public
// root here), then under CA Two, a locally installed root: an interception,
// critical. Checks: the host relays to the daemon (`backend: "daemon"` in
// the tab's reply), the badge shows "!", the daemon stored one alert and
// raised one desktop notification naming the site, and the extension did
// not raise a second one of its own (chrome.notifications.getAll). Then,
// without the daemon: the host works directly, and the extension's own
// notification for a CA whose organisation is `<a href=…>Bank</a>` carries
// it as escaped text.
//
// A missing browser, dbus-daemon, certutil or openssl skips with a printed
// reason; any failure exits non-zero.

import { spawn } from "node:child_process";
import { existsSync, readFileSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { createInterface } from "node:readline";
import { join } from "node:path";
import {
  BIN_DIR, CHROMIUM, EXT_DIR, TARGET, assert, log, nssdb, poll, startSite, which, world,
} from "./lib.mjs";

const NOTIFY_SERVER = join(TARGET, "debug", "notify-server");
const DAEMON_BIN = join(BIN_DIR, "certwatchd");

// A child process that prints one line when ready; returns it and that line.
function startReady(cmd, args, env, ready) {
  const child = spawn(cmd, args, { env, stdio: ["ignore", "pipe", "ignore"] });
  const lines = createInterface({ input: child.stdout });
  return new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`${cmd} did not start`)), 10_000);
    child.once("error", fail);
    lines.once("line", (line) => {
      clearTimeout(timer);
      if (ready(line)) ok({ child, line: line.trim() });
      else fail(new Error(`${cmd}: unexpected first line ${JSON.stringify(line)}`));
    });
  });
}

function notifications(file) {
  try {
    return readFileSync(file, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));
  } catch {
    return [];
  }
}

const EVIL = '<a href="https://evil.test">Bank</a>';

async function launch(w) {
  const { chromium } = await import("playwright-core");
  const ctx = await chromium.launchPersistentContext(join(w.home, ".config/chromium"), {
    executablePath: CHROMIUM,
    headless: true,
    env: w.env,
    args: [
      `--disable-extensions-except=${EXT_DIR}`, `--load-extension=${EXT_DIR}`, "--no-sandbox", "--disable-gpu",
      "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
  });
  const sw = ctx.serviceWorkers()[0] ?? (await ctx.waitForEvent("serviceworker", { timeout: 15_000 }));
  await sw.evaluate(() => true);
  const page = ctx.pages()[0] ?? (await ctx.newPage());
  return { ctx, sw, page };
}

// Loads `url` and waits for the badge update of that load.
async function visit(sw, page, url) {
  const since = Date.now();
  await page.goto(url, { waitUntil: "load" });
  return poll("the badge update", async () => {
    const id = await sw.evaluate(async (u) => (await chrome.tabs.query({})).find((x) => x.url === u)?.id, url);
    if (id == null) return null;
    const st = await sw.evaluate(async (k) => (await chrome.storage.session.get(k))[k], `tab:${id}`);
    if (!st || st.requestAt < since || !st.badgeAt) return null;
    return { ...st, badge: await sw.evaluate((i) => chrome.action.getBadgeText({ tabId: i }), id) };
  });
}

// The world of both scenarios: CA One public, `local` a root installed on
// this machine (so a change to it is an interception: critical).
function hubWorld(local) {
  const w = world("chromium", [["evil", EVIL]]);
  w.env.CERTWATCH_ROOTS = join(w.T, "ca-one.pem");
  w.env.CERTWATCH_LOCAL_ROOTS = join(w.T, `ca-${local}.pem`);
  mkdirSync(w.env.CERTWATCH_HOME, { recursive: true, mode: 0o700 });
  writeFileSync(join(w.env.CERTWATCH_HOME, "config.toml"), "caa = false\nct_refresh = false\nccadb_refresh = false\n", { mode: 0o600 });
  nssdb(join(w.home, ".pki/nssdb"), w.pki);
  return w;
}

// certwatchd running: the finding becomes its alert and notification.
async function withDaemon() {
  const w = hubWorld("two");
  const kids = [];
  let ctx;
  let site;
  try {
    const cw = w.env.CERTWATCH_HOME;
    const bus = await startReady(
      "dbus-daemon", ["--session", "--nofork", "--print-address", `--address=unix:path=${join(w.T, "bus")}`],
      w.env, (l) => l.startsWith("unix:"),
    );
    kids.push(bus.child);
    w.env.DBUS_SESSION_BUS_ADDRESS = bus.line;
    const notes = join(w.T, "notifications.jsonl");
    const server = await startReady(NOTIFY_SERVER, [notes], w.env, (l) => l.trim() === "ready");
    kids.push(server.child);
    const daemon = spawn(DAEMON_BIN, [], { env: w.env, stdio: ["ignore", "ignore", "inherit"] });
    kids.push(daemon);
    await poll("the daemon's socket", () => existsSync(join(cw, "certwatchd.sock")));

    site = await startSite({ key: w.pki.one.key, cert: w.pki.one.cert });
    let sw;
    let page;
    ({ ctx, sw, page } = await launch(w));
    const s1 = await visit(sw, page, site.url);
    assert(s1.reply?.result?.backend === "daemon", `the host relays to the daemon: ${JSON.stringify(s1.reply)}`);
    assert(["ok", "info"].includes(s1.severity) && s1.badge === "", `first visit: ${s1.severity} ${JSON.stringify(s1.badge)}`);

    await site.swap({ key: w.pki.two.key, cert: w.pki.two.cert });
    const s2 = await visit(sw, page, site.url);
    assert(s2.severity === "critical" && s2.badge === "!", `interception: ${s2.severity} ${JSON.stringify(s2.badge)}`);
    assert(s2.reply.result.backend === "daemon", "the finding went through the daemon");

    const seen = await poll("the daemon's desktop notification", () => {
      const n = notifications(notes);
      return n.length ? n : null;
    });
    const where = `127.0.0.1:${site.port}`;
    assert(seen[0].summary.includes(where), `the notification names the site: ${JSON.stringify(seen[0])}`);
    const alerts = w.cli("alerts", "--json").split("\n").filter(Boolean).map((l) => JSON.parse(l));
    assert(alerts.length === 1 && alerts[0].site === where && alerts[0].severity === "critical", `one critical alert: ${JSON.stringify(alerts)}`);
    await new Promise((r) => setTimeout(r, 500));
    assert(notifications(notes).length === 1, `one desktop notification: ${JSON.stringify(notifications(notes))}`);
    // The extension raised none of its own (the daemon's is the alert).
    const own = await sw.evaluate(async () => Object.keys(await chrome.notifications.getAll()));
    assert(own.length === 0, `the extension raised no second notification: ${JSON.stringify(own)}`);
    log(`hub: the browser's critical finding became daemon alert ${alerts[0].id} and one desktop notification`);
  } finally {
    await ctx?.close().catch(() => {});
    await site?.stop();
    for (const k of kids.reverse()) k.kill();
    rmSync(w.T, { recursive: true, force: true });
  }
}

// No daemon: the host works directly, and the extension's own notification
// shows a certificate's markup as text.
async function withoutDaemon() {
  const w = hubWorld("evil");
  let ctx;
  let site;
  try {
    site = await startSite({ key: w.pki.one.key, cert: w.pki.one.cert });
    let sw;
    let page;
    ({ ctx, sw, page } = await launch(w));
    const s1 = await visit(sw, page, site.url);
    assert(s1.reply?.result?.backend === "direct", `no daemon, the host works directly: ${JSON.stringify(s1.reply)}`);
    // Record what the extension hands to the notification API (test
    // instrumentation of the worker, through the browser's debugging port).
    await sw.evaluate(() => {
      const real = chrome.notifications.create.bind(chrome.notifications);
      globalThis.__created = [];
      chrome.notifications.create = (id, opts, ...rest) => {
        globalThis.__created.push(opts);
        return real(id, opts, ...rest);
      };
    });
    await site.swap({ key: w.pki.evil.key, cert: w.pki.evil.cert });
    const s2 = await visit(sw, page, site.url);
    assert(s2.severity === "critical", `interception by the markup CA: ${s2.severity}`);
    const made = await poll("the extension's notification", () => sw.evaluate(() => (globalThis.__created.length ? globalThis.__created : null)));
    const text = `${made[0].title}\n${made[0].message}`;
    assert(!/[<>]/.test(text) && text.includes("&lt;a href=\"https://evil.test\"&gt;Bank&lt;/a&gt;"), `markup escaped in the notification: ${text}`);
    log("hub: without the daemon the extension notifies itself, with the certificate's markup escaped");
  } finally {
    await ctx?.close().catch(() => {});
    await site?.stop();
    rmSync(w.T, { recursive: true, force: true });
  }
}

async function main() {
  const missing = ["certutil", "openssl", "dbus-daemon"].filter((c) => !which(c));
  if (missing.length) return log(`hub: skipped: ${missing.join(", ")} not installed (apt-get install libnss3-tools openssl dbus)`);
  if (!existsSync(CHROMIUM)) return log(`hub: skipped: browser binary ${CHROMIUM} not found (apt-get install chromium)`);
  for (const bin of [NOTIFY_SERVER, DAEMON_BIN]) {
    if (!existsSync(bin)) {
      console.error(`[e2e] FAIL: ${bin} not found: run \`cargo build --workspace --all-targets\` first`);
      process.exit(1);
    }
  }
  await withDaemon();
  await withoutDaemon();
  log("hub: passed");
}

main().catch((e) => {
  console.error("[e2e] hub: FAIL:", e?.stack ?? e);
  process.exit(1);
});
