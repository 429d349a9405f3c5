// certwatch popup: the current tab's verdict, CA, reasons and history.
// Every text from the host or the page goes through textContent.
"use strict";

const api = globalThis.browser ?? globalThis.chrome;
// The toolbar button: `action` (MV3), `browserAction` (a Firefox MV2 package).
const action = api.action ?? api.browserAction;
const $ = (id) => document.getElementById(id);

const SUMMARY = {
  critical: "Warning: this connection may be intercepted. The certificate authority vouching for this site is not the one certwatch saw before, or the certificate cannot be trusted.",
  warning: "The certificate authority vouching for this site changed. This is often a routine renewal with a new CA, but check that you expected it.",
  info: "Nothing suspicious: certwatch noticed a change it considers routine.",
  ok: "Nothing suspicious: the site is vouched for by the same certificate authority as before.",
  unknown: "certwatch could not check this site.",
};

// Where the chain that was judged came from (the background's `source`).
// Only Firefox hands extensions the certificate it received.
const SOURCE = {
  browser: "The chain shown is the one the browser received.",
  probe: typeof api.webRequest?.getSecurityInfo === "function"
    ? "The chain shown came from certwatch's own connection to the site: the browser did not pass on the certificate it received."
    : "The chain shown came from certwatch's own connection to the site: Chromium gives extensions no certificate.",
};

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text != null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

function caText(ca) {
  if (!ca) return "unknown";
  const parts = [ca.name];
  if (ca.intermediate && ca.intermediate !== ca.name) parts.push(`intermediate ${ca.intermediate}`);
  if (ca.root) parts.push(`root ${ca.root}`);
  return parts.join(" · ");
}

// The tab this popup is about, chosen only from the browser's own state
// (nothing a page can set): the active tab of the popup's window; when the
// popup is itself open in a tab, the most recently used other tab. No
// resource of the extension is web-accessible, so no page can open or
// frame this one.
async function targetTab() {
  const self = api.tabs.getCurrent ? await api.tabs.getCurrent() : undefined;
  if (!self) {
    const [tab] = await api.tabs.query({ active: true, currentWindow: true });
    return tab ?? null;
  }
  const own = api.runtime.getURL("");
  const others = (await api.tabs.query({})).filter((t) => t.id !== self.id && !(t.url ?? "").startsWith(own));
  others.sort((a, b) => (b.lastAccessed ?? 0) - (a.lastAccessed ?? 0));
  return others[0] ?? null;
}

const tabStore = api.storage.session ?? api.storage.local;

let current = null;

async function render() {
  const tab = await targetTab();
  if (!tab) return;
  const key = `tab:${tab.id}`;
  const st = (await tabStore.get(key))[key];
  current = st ? { ...st, tabId: tab.id } : null;
  try {
    const text = await action.getBadgeText({ tabId: tab.id });
    $("badge-text").textContent = text;
    document.body.dataset.badge = text;
  } catch {
    // ignore
  }
  if (!st) return;
  document.body.dataset.severity = st.ignored ? "ignored" : st.severity;
  document.body.dataset.badgeAt = String(st.badgeAt ?? 0);
  document.body.dataset.requestAt = String(st.requestAt ?? 0);
  $("site").textContent = st.port === 443 ? st.host : `${st.host}:${st.port}`;
  if (st.ignored) {
    $("summary").textContent = "This site is on your ignore list (Settings).";
    return;
  }
  const r = st.reply?.result ?? {};
  const sev = st.severity ?? "unknown";
  const sevEl = $("severity");
  sevEl.textContent = st.accepted ? "accepted" : sev;
  sevEl.className = `sev ${st.accepted ? "ok" : sev}`;
  let summary = SUMMARY[sev] ?? SUMMARY.unknown;
  if (!st.reply?.ok && st.reply?.error) summary += ` (${st.reply.error.message})`;
  if (st.accepted) summary = "You accepted this certificate authority for this site.";
  $("summary").textContent = summary;

  if (r.ca) {
    $("ca-section").hidden = false;
    $("ca-now").textContent = caText(r.ca);
    const before = r.previous_ca;
    $("ca-before-label").hidden = !before;
    $("ca-before").hidden = !before;
    $("ca-before").textContent = before ? caText(before) : "";
    $("trust").textContent = {
      public: "publicly trusted root",
      local: "root installed on this computer (not a public CA)",
      untrusted: "no trusted root",
    }[r.trust] ?? String(r.trust ?? "");
    const note = $("source-note");
    note.textContent = SOURCE[st.source] ?? "";
    note.hidden = !note.textContent;
    document.body.dataset.source = st.source ?? "";
  }
  const reasons = Array.isArray(r.reasons) ? r.reasons : [];
  const list = $("reasons");
  list.replaceChildren(...reasons.map((x) => el("li", x.message, x.severity)));
  $("reasons-section").hidden = reasons.length === 0;
  $("accept").hidden = st.accepted || !(sev === "warning" || sev === "critical") || !r.ca;
  loadHistory(st);
}

async function loadHistory(st) {
  const reply = await api.runtime.sendMessage({ type: "history", host: st.host, port: st.port });
  const items = reply?.result?.sightings ?? [];
  const ol = $("history");
  ol.replaceChildren(
    ...items.map((s) => {
      const first = String(s.first_seen ?? "").slice(0, 10);
      const last = String(s.last_seen ?? "").slice(0, 10);
      const when = first === last ? first : `${first} → ${last}`;
      return el("li", `${when}: ${caText(s.ca)} (seen ${s.count}×, ${s.severity})`, s.severity);
    }),
  );
  $("history-section").hidden = items.length === 0;
}

$("accept").addEventListener("click", async () => {
  if (!current) return;
  const reply = await api.runtime.sendMessage({
    type: "accept",
    host: current.host,
    port: current.port,
    tabId: current.tabId,
  });
  const p = $("accept-result");
  p.hidden = false;
  p.textContent = reply?.ok
    ? `Accepted ${reply.result?.accepted?.name ?? "this CA"} for this site.`
    : `Could not accept: ${reply?.error?.message ?? "no answer from certwatch"}`;
  render();
});

api.storage.onChanged.addListener(() => render());
render();
