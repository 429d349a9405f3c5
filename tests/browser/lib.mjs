// Shared fixtures of the real-browser tests (e2e.mjs, and the others in
// this directory): paths of the binaries and browsers, two test CAs made
// with openssl, an NSS database trusting them, a loopback HTTPS site whose
// CA can be swapped, a throwaway world (HOME, CERTWATCH_HOME, host manifest
// written by the real `certwatch extension install`), polling helpers.

import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import * as http from "node:http";
import * as https from "node:https";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const HERE = dirname(fileURLToPath(import.meta.url));
export const ROOT = resolve(HERE, "../..");
export const EXT_DIR = join(ROOT, "extension-host/webextension");
export const ARTIFACTS = join(HERE, "artifacts");
// The shipped binaries as the Rust tests build them (tests/support: one
// `cargo build -p` each, into target/shipped), else the workspace build.
export const TARGET = process.env.CARGO_TARGET_DIR ?? join(ROOT, "target");
export const BIN_DIR = process.env.CERTWATCH_BIN_DIR ??
  (existsSync(join(TARGET, "shipped", "debug", "certwatch-host")) ? join(TARGET, "shipped", "debug") : join(TARGET, "debug"));
export const HOST_BIN = join(BIN_DIR, "certwatch-host");
export const CLI_BIN = join(BIN_DIR, "certwatch");
export const CHROMIUM = process.env.CHROMIUM_BIN ?? "/usr/lib/chromium/chromium";
export const FIREFOX = process.env.FIREFOX_BIN ?? "/usr/bin/firefox-esr";
export const CHROMIUM_ID = "nidhmbphhnpnodopclngimahlhkpiejl";
export const GECKO_ID = "certwatch@certwatch.org";
export const FIREFOX_UUID = "0b5c7b8e-1f0a-4d57-9c39-00000000c3a7";
export const CA_ONE = "certwatch Test CA One";
export const CA_TWO = "certwatch Test CA Two";
export const DEADLINE_MS = 30_000;

export const log = (...a) => console.log("[e2e]", ...a);

export function which(cmd) {
  try {
    execFileSync("sh", ["-c", `command -v ${cmd}`], { stdio: "pipe" });
    return true;
  } catch {
    return false;
  }
}

// What a real-browser test cannot run without and is not there: one line
// each, with how to get it.
export function unbuilt() {
  const need = [
    [HOST_BIN, "run `cargo build --workspace --bins` first (or set CERTWATCH_BIN_DIR)"],
    [CLI_BIN, "run `cargo build --workspace --bins` first (or set CERTWATCH_BIN_DIR)"],
    [join(HERE, "node_modules"), "run `npm ci --prefix tests/browser` first"],
  ];
  return need.filter(([path]) => !existsSync(path)).map(([path, how]) => `${path} missing: ${how}`);
}

export async function poll(what, fn, ms = DEADLINE_MS) {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
}

// When the page's load event ended, by the browser's own clock (epoch ms).
export async function loadEnd(page, fallback) {
  try {
    const t = await page.evaluate(() => {
      const n = performance.getEntriesByType("navigation")[0];
      return n && n.loadEventEnd > 0 ? performance.timeOrigin + n.loadEventEnd : 0;
    });
    return t > 0 ? t : fallback;
  } catch {
    return fallback;
  }
}

export function assert(cond, msg) {
  if (!cond) throw new Error(`assertion failed: ${msg}`);
}

// --- fixtures: two CAs and a leaf under each (openssl) ----------------------

// Two CAs ("one", "two") and any `extra` [tag, organisation] pairs, each
// with a leaf for localhost / 127.0.0.1.
export function makePki(dir, extra = []) {
  const run = (...args) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
  writeFileSync(
    join(dir, "leaf.ext"),
    "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n",
  );
  const out = {};
  let serial = 1000;
  for (const [tag, org] of [["one", CA_ONE], ["two", CA_TWO], ...extra]) {
    const dn = org.replace(/[\\/+=]/g, (c) => `\\${c}`); // openssl -subj escapes
    run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
      "-keyout", `ca-${tag}.key`, "-out", `ca-${tag}.pem`, "-days", "3650",
      "-subj", `/CN=${dn} Root/O=${dn}`,
      "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign");
    run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
      "-keyout", `leaf-${tag}.key`, "-out", `leaf-${tag}.csr`, "-subj", "/CN=localhost");
    run("x509", "-req", "-in", `leaf-${tag}.csr`, "-CA", `ca-${tag}.pem`, "-CAkey", `ca-${tag}.key`,
      "-set_serial", String(++serial), "-out", `leaf-${tag}.pem`, "-days", "30", "-extfile", "leaf.ext");
    out[tag] = {
      caPem: join(dir, `ca-${tag}.pem`),
      key: readFileSync(join(dir, `leaf-${tag}.key`)),
      cert: Buffer.concat([readFileSync(join(dir, `leaf-${tag}.pem`)), readFileSync(join(dir, `ca-${tag}.pem`))]),
    };
  }
  writeFileSync(join(dir, "roots.pem"), Buffer.concat([readFileSync(out.one.caPem), readFileSync(out.two.caPem)]));
  writeFileSync(join(dir, "empty.pem"), "");
  return out;
}

export function nssdb(dir, pki) {
  mkdirSync(dir, { recursive: true });
  execFileSync("certutil", ["-N", "-d", `sql:${dir}`, "--empty-password"], { stdio: "pipe" });
  for (const tag of Object.keys(pki)) {
    execFileSync("certutil", ["-A", "-d", `sql:${dir}`, "-n", `certwatch test root ${tag}`, "-t", "C,,", "-i", pki[tag].caPem], { stdio: "pipe" });
  }
}

// An HTTPS site on 127.0.0.1 whose CA can be swapped (restart on the same
// port, so no connection or TLS session of the first CA survives).
export async function startSite(tls) {
  const handler = (req, res) => {
    res.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store", connection: "close" });
    res.end("<!doctype html><title>certwatch fixture</title><h1>hello</h1>");
  };
  const listen = (opts, port) =>
    new Promise((ok, fail) => {
      const s = https.createServer({ ...opts }, handler);
      s.keepAliveTimeout = 1;
      s.once("error", fail);
      s.listen(port, "127.0.0.1", () => ok(s));
    });
  let server = await listen(tls, 0);
  const port = server.address().port;
  return {
    port,
    url: `https://127.0.0.1:${port}/`,
    async swap(next) {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      server = await listen(next, port);
    },
    async stop() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

// A plain http page (a place for a tab to start from; e2e.mjs no longer
// needs it: nothing of the extension is web-accessible).
export async function startLauncher() {
  const s = http.createServer((req, res) => {
    res.writeHead(200, { "content-type": "text/html" });
    res.end("<!doctype html><title>launcher</title>");
  });
  await new Promise((r) => s.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${s.address().port}/`, stop: () => new Promise((r) => s.close(r)) };
}

// A page of the site (the forged site itself, after the CA change) tries
// every way it has to reach the popup's "I trust this change" button: an
// iframe of the popup laid transparently over a decoy, a child frame
// navigated to it (location, a link, a named window.open), a new window,
// the popup's own files as fetch/img/script/stylesheet; then clicks: the
// driver's frame.click("#accept") in every frame, and real mouse clicks at
// `at` (where the button sits in the legitimate popup, same viewport) and
// over a grid covering the frame. Nothing of the extension may load and no
// frame may have the button. Pages the attempt opened are checked the same
// way and closed (`pages` lists the browser's pages; `keep` are left
// alone). Works with playwright-core and puppeteer-core pages alike.
export async function hostilePage(page, popupUrl, { at = [], pages, keep = [] } = {}) {
  const u = new URL(popupUrl);
  const origin = `${u.protocol}//${u.host}`; // URL.origin is "null" for extension schemes in node
  const attempts = await page.evaluate(async (u) => {
    const base = u.slice(0, u.lastIndexOf("/") + 1);
    const out = {};
    const tryIt = (k, fn) => {
      try {
        fn();
        out[k] = "no error";
      } catch (e) {
        out[k] = `refused: ${e?.message ?? e}`;
      }
    };
    const decoy = document.createElement("button");
    decoy.textContent = "Click to continue";
    decoy.style.cssText = "position:fixed;left:0;top:0;width:100%;height:100%";
    document.body.append(decoy);
    const f = document.createElement("iframe");
    f.id = "hostile";
    f.src = u;
    f.style.cssText = "position:fixed;left:0;top:0;width:100vw;height:100vh;border:0;opacity:0.01;z-index:10";
    document.body.append(f);
    const kid = document.createElement("iframe");
    kid.name = "kid";
    kid.src = "about:blank";
    document.body.append(kid);
    tryIt("child frame location", () => {
      kid.contentWindow.location.href = u;
    });
    tryIt("link into the child frame", () => {
      const a = document.createElement("a");
      a.href = u;
      a.target = "kid";
      document.body.append(a);
      a.click();
    });
    tryIt("window.open into the child frame", () => window.open(u, "kid"));
    tryIt("window.open", () => {
      out.opened = Boolean(window.open(u));
    });
    const load = (tag, attrs) =>
      new Promise((r) => {
        const e = document.createElement(tag);
        e.onload = () => r("loaded");
        e.onerror = () => r("refused");
        setTimeout(() => r("no answer"), 2000);
        Object.assign(e, attrs);
        document.head.append(e);
      });
    [out.fetch, out.img, out.script, out.stylesheet] = await Promise.all([
      fetch(u).then(() => "loaded", () => "refused"),
      load("img", { src: `${base}icons/icon16.png` }),
      load("script", { src: `${base}popup.js` }),
      load("link", { rel: "stylesheet", href: `${base}popup.css` }),
    ]);
    return out;
  }, popupUrl);
  for (const k of ["fetch", "img", "script", "stylesheet"]) {
    assert(attempts[k] !== "loaded", `a web page loaded the extension's files (${k}): ${JSON.stringify(attempts)}`);
  }
  await new Promise((r) => setTimeout(r, 500)); // let the frames' navigations settle
  // A frame or window reached the popup when its document is of the
  // extension's origin or has the popup's controls.
  const reached = async (f) => {
    let d;
    try {
      d = await f.evaluate(() => ({
        origin: location.origin,
        href: location.href,
        controls: ["accept", "history", "summary"].filter((id) => document.getElementById(id)),
      }));
    } catch (e) {
      return null; // an error page that cannot even be evaluated
    }
    return d.origin === origin || d.controls.length ? d : null;
  };
  const frames = page.frames().filter((f) => f !== page.mainFrame());
  assert(frames.length >= 2, `the hostile frames exist (${frames.length})`);
  for (const f of frames) {
    const d = await reached(f);
    assert(!d, `a web page framed the popup (${f.url()}): ${JSON.stringify(d)}`);
  }
  let clicked = 0;
  for (const f of frames) {
    try {
      await f.click("#accept", { timeout: 300 });
      clicked++;
    } catch {
      // nothing to click: as it must be
    }
  }
  assert(clicked === 0, `the driver clicked "#accept" in a framed popup`);
  const box = await page.evaluate(() => {
    const r = document.getElementById("hostile").getBoundingClientRect();
    return { x: r.x, y: r.y, w: r.width, h: r.height };
  });
  const points = [...at];
  for (let x = box.x + box.w / 8; x < box.x + box.w; x += box.w / 4) {
    for (let y = box.y + box.h / 12; y < box.y + box.h; y += box.h / 6) points.push({ x, y });
  }
  for (const p of points) await page.mouse.click(p.x, p.y);
  for (const f of page.frames()) {
    const d = f === page.mainFrame() ? null : await reached(f);
    assert(!d, `after the clicks, a web page framed the popup (${f.url()}): ${JSON.stringify(d)}`);
  }
  let opened = 0;
  for (const p of pages ? await pages() : []) {
    if (p === page || keep.includes(p)) continue;
    opened++;
    const d = await reached(p.mainFrame());
    assert(!d, `a web page opened the popup in a window (${p.url()}): ${JSON.stringify(d)}`);
    await p.close();
  }
  log(`hostile page got nothing of the extension: ${frames.length} frames, ${points.length} clicks, ${opened} window(s) opened and closed; ${JSON.stringify(attempts)}`);
  return { attempts, frames: frames.length, clicks: points.length, opened };
}

// The old name: a page of the site frames the popup and tries to reach its
// "I trust this change" button.
export async function hostileFrame(page, popupUrl) {
  return hostilePage(page, popupUrl);
}

// Per-run world: dirs, env, manifests written by the real CLI.
export function world(browser, extraCas = []) {
  const T = mkdtempSync(join(tmpdir(), `certwatch-e2e-${browser}-`));
  const pki = makePki(T, extraCas);
  const home = join(T, "home");
  mkdirSync(home, { recursive: true });
  const env = {
    ...process.env,
    HOME: home,
    CERTWATCH_HOME: join(T, "cw"),
    CERTWATCH_ROOTS: join(T, "roots.pem"),
    CERTWATCH_LOCAL_ROOTS: join(T, "empty.pem"),
    NO_COLOR: "1",
    // The tests swap a site's CA within a second on the same address; a
    // cached probe (Chromium) would answer for the old one. The cache has
    // its own tests (tests/it/hub.rs) and benchmark (tests/bench/host_bench.py).
    CERTWATCH_PROBE_CACHE: process.env.E2E_PROBE_CACHE ?? "0",
  };
  for (const v of ["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "HTTP_PROXY", "http_proxy"]) delete env[v];
  const cli = (...args) => execFileSync(CLI_BIN, args, { env, stdio: ["ignore", "pipe", "pipe"] }).toString();
  cli("extension", "install", "--browser", browser === "firefox" ? "firefox" : "chromium", "--host-path", HOST_BIN);
  return { T, pki, home, env, cli };
}

export function history(w, port) {
  return JSON.parse(w.cli("history", `127.0.0.1:${port}`, "--json"));
}

// The site's acceptances ("I trust this change", `certwatch accept`): the
// audit log's `accept` events. `history --json` has none: its sightings
// keep the verdict they were recorded with.
export function acceptances(w, port) {
  return w.cli("log", "--json")
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l))
    .filter((e) => e.kind === "accept" && e.site === `127.0.0.1:${port}`);
}


export const FIREFOX_PREFS = {
  "browser.shell.checkDefaultBrowser": false,
  "browser.startup.page": 0,
  "browser.startup.homepage_override.mstone": "ignore",
  "browser.aboutwelcome.enabled": false,
  "datareporting.policy.dataSubmissionEnabled": false,
  "toolkit.telemetry.reportingpolicy.firstRun": false,
  "app.update.enabled": false,
  "app.normandy.enabled": false,
  "extensions.update.enabled": false,
  "extensions.getAddons.cache.enabled": false,
  "browser.safebrowsing.malware.enabled": false,
  "browser.safebrowsing.phishing.enabled": false,
  "browser.safebrowsing.downloads.enabled": false,
  "network.captive-portal-service.enabled": false,
  "network.connectivity-service.enabled": false,
  "security.OCSP.enabled": 0,
  "browser.region.network.url": "",
  "browser.newtabpage.enabled": false,
  "services.settings.server": "http://127.0.0.1:1/",
  "extensions.webextensions.uuids": JSON.stringify({ [GECKO_ID]: FIREFOX_UUID }),
};

// puppeteer's waitForFunction does not run in Firefox's extension pages
// over BiDi; evaluate does: poll it.
export function waitIn(page, fn, arg) {
  return poll(`popup: ${fn}`, async () => {
    try {
      return (await page.evaluate(fn, arg)) || null;
    } catch {
      return null;
    }
  });
}

// Nearest-rank percentile (p in 0..100): with 20 samples p99 is the largest.
export function percentile(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length, Math.max(1, Math.ceil((p / 100) * s.length))) - 1] : NaN;
}

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)] : NaN;
}
