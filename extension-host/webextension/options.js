// certwatch options: ignored sites, notifications, host status.
"use strict";

const api = globalThis.browser ?? globalThis.chrome;
const $ = (id) => document.getElementById(id);
const ALL = { origins: ["<all_urls>"] };

async function load() {
  const s = (await api.storage.local.get("settings")).settings ?? {};
  $("ignore").value = (s.ignore ?? []).join("\n");
  $("notifications").checked = s.notifications ?? true;
  try {
    $("perm").hidden = await api.permissions.contains(ALL);
  } catch {
    $("perm").hidden = true;
  }
  const reply = await api.runtime.sendMessage({ type: "status" }).catch(() => null);
  const r = reply?.result;
  const via = r?.backend === "daemon"
    ? "through certwatchd, which raises desktop alerts for what the browser finds"
    : "directly (certwatchd is not running: no desktop alerts)";
  $("host-status").textContent = reply?.ok
    ? `Connected: certwatch-host ${r.host_version}, ${via}; database ${r.db}, ${r.sites} site(s) known.`
    : `Not connected: ${reply?.error?.message ?? "no answer"}. Run "certwatch extension install".`;
}

$("save").addEventListener("click", async () => {
  const ignore = $("ignore")
    .value.split(/\s+/)
    .map((h) => h.trim().toLowerCase())
    .filter((h) => h !== "");
  await api.storage.local.set({ settings: { ignore, notifications: $("notifications").checked } });
  $("saved").textContent = "Saved.";
});

$("grant").addEventListener("click", async () => {
  const ok = await api.permissions.request(ALL).catch(() => false);
  $("perm").hidden = ok;
});

load();
