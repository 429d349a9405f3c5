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

export function makePki(dir) {
  const run = (...args) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
  writeFileSync(
    join(dir, "leaf.ext"),
    "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n",
  );
  const out = {};
  for (const [tag, org] of [["one", CA_ONE], ["two", CA_TWO]]) {
    run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
      "-keyout", `ca-${tag}.key`, "-out", `ca-${tag}.pem`, "-days", "3650",
      "-subj", `/CN=${org} Root/O=${org}`,
      "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign");
    run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
      "-keyout", `leaf-${tag}.key`, "-out", `leaf-${tag}.csr`, "-subj", "/CN=localhost");
    run("x509", "-req", "-in", `leaf-${tag}.csr`, "-CA", `ca-${tag}.pem`, "-CAkey", `ca-${tag}.key`,
      "-set_serial", tag === "one" ? "1001" : "2002", "-out", `leaf-${tag}.pem`, "-days", "30", "-extfile", "leaf.ext");
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
  for (const tag of ["one", "two"]) {
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

// A plain http page: a place from which a Firefox tab can navigate itself to
// the (web-accessible) popup.
export async function startLauncher() {
  const s = http.createServer((req, res) => {
    res.writeHead(200, { "content-type": "text/html" });
    res.end("<!doctype html><title>launcher</title>");
  });
  await new Promise((r) => s.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${s.address().port}/`, stop: () => new Promise((r) => s.close(r)) };
}

// A page of the site inserts an iframe of the extension's popup and tries to
// reach its "I trust this change" button: the frame must not load it.
export async function hostileFrame(page, popupUrl) {
  await page.evaluate((u) => {
    const f = document.createElement("iframe");
    f.src = u;
    f.id = "hostile";
    document.body.append(f);
  }, popupUrl);
  await new Promise((r) => setTimeout(r, 1500));
  for (const f of page.frames()) {
    if (f === page.mainFrame()) continue;
    let found = false;
    try {
      found = await f.evaluate(() => Boolean(document.getElementById("accept")));
    } catch {
      found = false;
    }
    assert(!found, `a web page framed the popup (${f.url()})`);
  }
  log("hostile page could not frame the popup");
}

// Per-run world: dirs, env, manifests written by the real CLI.
export function world(browser) {
  const T = mkdtempSync(join(tmpdir(), `certwatch-e2e-${browser}-`));
  const pki = makePki(T);
  const home = join(T, "home");
  mkdirSync(home, { recursive: true });
  const env = {
    ...process.env,
    HOME: home,
    CERTWATCH_HOME: join(T, "cw"),
    CERTWATCH_ROOTS: join(T, "roots.pem"),
    CERTWATCH_LOCAL_ROOTS: join(T, "empty.pem"),
    NO_COLOR: "1",
  };
  for (const v of ["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "HTTP_PROXY", "http_proxy"]) delete env[v];
  const cli = (...args) => execFileSync(CLI_BIN, args, { env, stdio: ["ignore", "pipe", "pipe"] }).toString();
  cli("extension", "install", "--browser", browser === "firefox" ? "firefox" : "chromium", "--host-path", HOST_BIN);
  return { T, pki, home, env, cli };
}

export function history(w, port) {
  return JSON.parse(w.cli("history", `127.0.0.1:${port}`, "--json"));
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

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)] : NaN;
}
