// certwatch background: ask the local native host about every https page a
// tab loads, keep the answer per tab, and show it on the toolbar badge.
//
// Firefox: the chain the browser received comes from webRequest.getSecurityInfo
// in a blocking onHeadersReceived listener; the listener only waits for
// getSecurityInfo (local, fast), never for the host. Chromium has no
// getSecurityInfo: the host name is sent when the navigation completes and
// the host probes the site itself.
//
// Nothing is sent anywhere but the native host "org.certwatch.host".
"use strict";

const api = globalThis.browser ?? globalThis.chrome;
// The toolbar button: `action` (MV3), `browserAction` (a Firefox MV2 package).
const action = api.action ?? api.browserAction;
const HOST = "org.certwatch.host";
const PROTOCOL = 1;
const hasSecurityInfo = typeof api.webRequest?.getSecurityInfo === "function";

const BADGE = {
  critical: { text: "!", color: "#c5221f" },
  warning: { text: "!", color: "#e8a400" },
};

const DEFAULT_SETTINGS = { ignore: [], notifications: true };

async function settings() {
  const got = await api.storage.local.get("settings");
  return { ...DEFAULT_SETTINGS, ...(got.settings ?? {}) };
}

function ignored(host, list) {
  return list.some((p) => {
    const rule = String(p).trim().toLowerCase().replace(/^\*\./, "");
    return rule !== "" && (host === rule || host.endsWith("." + rule));
  });
}

// One native host for the whole browser session: a long-lived
// connectNative port (the host keeps the engine, the database and its
// recent probes open, or relays to certwatchd). Replies carry the request's
// id and may come out of order. If the host exits, every pending request
// fails with host_unavailable and the next request starts a new host.
const TIMEOUT_MS = 60_000;
let nextId = 1;
let port = null;
const pending = new Map();

function connect() {
  const p = api.runtime.connectNative(HOST);
  p.onMessage.addListener((msg) => {
    const waiter = pending.get(msg?.id);
    if (!waiter) return;
    pending.delete(msg.id);
    clearTimeout(waiter.timer);
    waiter.resolve(msg);
  });
  p.onDisconnect.addListener(() => {
    const why = api.runtime.lastError?.message ?? p.error?.message ?? "the native host exited";
    if (port === p) port = null;
    for (const [id, waiter] of pending) {
      if (waiter.port !== p) continue;
      pending.delete(id);
      clearTimeout(waiter.timer);
      waiter.reject(new Error(why));
    }
  });
  return p;
}

function ask(message) {
  const id = nextId++;
  const msg = { v: PROTOCOL, id, ...message };
  return new Promise((resolve, reject) => {
    try {
      port ??= connect();
      port.postMessage(msg);
    } catch (e) {
      port = null;
      reject(e);
      return;
    }
    const timer = setTimeout(() => {
      pending.delete(id);
      reject(new Error(`no answer from the native host in ${TIMEOUT_MS / 1000} s`));
    }, TIMEOUT_MS);
    pending.set(id, { resolve, reject, timer, port });
  });
}

function siteOf(url) {
  let u;
  try {
    u = new URL(url);
  } catch {
    return null;
  }
  if (u.protocol !== "https:") return null;
  const host = u.hostname.replace(/^\[|\]$/g, "").toLowerCase();
  const port = u.port ? Number(u.port) : 443;
  return { host, port };
}

const tabKey = (tabId) => `tab:${tabId}`;

// Which sites the tabs show is browsing history: it lives in session
// storage (memory only, gone when the browser exits) where the browser has
// it. Only the user's settings are kept in local storage.
const tabStore = api.storage.session ?? api.storage.local;

// Notification servers may render markup: certificate text never can.
function escapeMarkup(s) {
  return String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

// Read-modify-write of a tab's state and badge, one at a time per tab, so
// an older answer or a re-applied badge never overwrites a newer state.
const locks = new Map();
function withTab(tabId, fn) {
  const next = (locks.get(tabId) ?? Promise.resolve()).then(fn, fn);
  const tail = next.catch(() => {});
  locks.set(tabId, tail);
  tail.then(() => {
    if (locks.get(tabId) === tail) locks.delete(tabId);
  });
  return next;
}

async function tabState(tabId) {
  return (await tabStore.get(tabKey(tabId)))[tabKey(tabId)];
}

async function applyBadge(tabId, state) {
  const b = state && !state.accepted ? BADGE[state.severity] : undefined;
  try {
    await action.setBadgeText({ tabId, text: b ? b.text : "" });
    if (b) await action.setBadgeBackgroundColor({ tabId, color: b.color });
    const title = state?.severity ? `certwatch: ${state.host} — ${state.severity}` : "certwatch";
    await action.setTitle({ tabId, title });
  } catch {
    // The tab is gone.
  }
}

async function notify(state) {
  const s = await settings();
  if (!s.notifications || !api.notifications || state.severity !== "critical") return;
  const r = state.reply?.result ?? {};
  // certwatchd raised the desktop alert already (one per site and CA).
  if (r.backend === "daemon") return;
  const now = r.ca?.name ?? "an unknown CA";
  const before = r.previous_ca?.name;
  try {
    await api.notifications.create(`certwatch-${state.host}-${state.port}`, {
      type: "basic",
      iconUrl: api.runtime.getURL("icons/icon128.png"),
      title: escapeMarkup(`certwatch: ${state.host}`),
      message: escapeMarkup(before ? `Certificate authority changed: ${before} → ${now}` : `Check failed: ${now}`),
    });
  } catch {
    // Notifications unavailable (headless, denied).
  }
}

// One check of `site` for `tabId`. `extra` carries Firefox's chain, or the
// server address Chromium connected to.
async function check(tabId, site, extra) {
  const s = await settings();
  const requestAt = Date.now();
  if (ignored(site.host, s.ignore)) {
    await withTab(tabId, async () => {
      await applyBadge(tabId, null);
      await tabStore.set({ [tabKey(tabId)]: { ...site, ignored: true, requestAt, at: Date.now() } });
    });
    return;
  }
  let reply;
  try {
    reply = await ask({ type: "check", host: site.host, port: site.port, ...extra });
  } catch (e) {
    reply = { ok: false, error: { kind: "host_unavailable", message: String(e?.message ?? e) } };
  }
  const severity = reply?.result?.severity ?? "unknown";
  const state = {
    ...site,
    severity,
    reply,
    source: extra.chain ? "browser" : "probe",
    requestAt,
    badgeAt: 0,
    accepted: false,
  };
  const shown = await withTab(tabId, async () => {
    // A newer navigation in this tab may have superseded this one.
    const cur = await tabState(tabId);
    if (cur && cur.requestAt > requestAt) return false;
    await applyBadge(tabId, state);
    state.badgeAt = Date.now();
    await tabStore.set({ [tabKey(tabId)]: state, last: { tabId, ...site, badgeAt: state.badgeAt } });
    return true;
  });
  if (shown && (severity === "critical" || severity === "warning")) notify(state);
}

// Firefox: blocking listener, only for getSecurityInfo.
if (hasSecurityInfo) {
  api.webRequest.onHeadersReceived.addListener(
    (details) => {
      if (details.tabId < 0) return undefined;
      const site = siteOf(details.url);
      if (!site) return undefined;
      return api.webRequest
        .getSecurityInfo(details.requestId, { certificateChain: true, rawDER: true })
        .then((info) => {
          const certs = info?.certificates ?? [];
          const extra = { tls_state: info?.state ?? null };
          if (certs.length > 0) {
            extra.chain = certs.map((c) => bytesToBase64(c.rawDER ?? []));
            extra.is_builtin_root = Boolean(certs[certs.length - 1].isBuiltInRoot);
          }
          // Not awaited: the page never waits for the host.
          check(details.tabId, site, extra);
          return {};
        })
        .catch(() => ({}));
    },
    { urls: ["https://*/*"], types: ["main_frame"] },
    ["blocking"],
  );
}

function bytesToBase64(bytes) {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode.apply(null, Array.from(bytes.slice(i, i + 0x8000)));
  }
  return btoa(s);
}

// Chromium: the server address each tab's page came from (memory only).
// The host's cached probe of a site never answers for another address.
const serverIp = new Map();
if (!hasSecurityInfo) {
  api.webRequest.onResponseStarted.addListener(
    (details) => {
      if (details.tabId >= 0 && details.ip) serverIp.set(details.tabId, { url: details.url, ip: details.ip });
    },
    { urls: ["https://*/*"], types: ["main_frame"] },
  );
}

// Chromium: check when the top frame finished loading.
api.webNavigation.onCompleted.addListener((d) => {
  if (d.frameId !== 0) return;
  const site = siteOf(d.url);
  if (!site) return;
  if (!hasSecurityInfo) {
    const seen = serverIp.get(d.tabId);
    const from = seen && siteOf(seen.url);
    const same = from && from.host === site.host && from.port === site.port;
    check(d.tabId, site, same ? { ip: seen.ip } : {});
  } else {
    reapply(d.tabId, site);
  }
});

// Firefox clears a tab's badge when it navigates; the host's answer may
// arrive before that. Re-apply the stored state once the page committed.
api.webNavigation.onCommitted.addListener((d) => {
  if (d.frameId !== 0) return;
  const site = siteOf(d.url);
  if (site) reapply(d.tabId, site);
});

function reapply(tabId, site) {
  return withTab(tabId, async () => {
    const st = await tabState(tabId);
    if (st && st.host === site.host && st.port === site.port && !st.ignored) {
      await applyBadge(tabId, st);
      st.shownAt = Date.now();
      await tabStore.set({ [tabKey(tabId)]: st });
    }
  });
}

api.tabs?.onRemoved?.addListener((tabId) => {
  serverIp.delete(tabId);
  tabStore.remove(tabKey(tabId));
});

// Messages from the popup and the options page (this extension only).
api.runtime.onMessage.addListener((msg, sender, sendResponse) => {
  if (sender.id !== api.runtime.id) return false;
  (async () => {
    if (msg?.type === "accept") {
      const reply = await ask({ type: "accept", host: msg.host, port: msg.port });
      if (reply?.ok && msg.tabId != null) {
        await withTab(msg.tabId, async () => {
          const st = await tabState(msg.tabId);
          if (st && st.host === msg.host && st.port === msg.port) {
            st.accepted = true;
            await applyBadge(msg.tabId, st);
            await tabStore.set({ [tabKey(msg.tabId)]: st });
          }
        });
      }
      return reply;
    }
    if (msg?.type === "history" || msg?.type === "status") {
      return ask(msg.type === "status" ? { type: "status" } : { type: "history", host: msg.host, port: msg.port });
    }
    return { ok: false, error: { kind: "unknown_type", message: "unknown message" } };
  })().then(sendResponse, (e) => sendResponse({ ok: false, error: { kind: "host_unavailable", message: String(e?.message ?? e) } }));
  return true;
});
