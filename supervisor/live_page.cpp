#include "live_page.hpp"

#include "json.hpp"

namespace seq::sup {

namespace {

void field(std::string& out, std::string_view key, std::string_view text) {
    out += json_string(key) + ": " + json_string(text) + ", ";
}
void field(std::string& out, std::string_view key, std::int64_t n) {
    out += json_string(key) + ": " + std::to_string(n) + ", ";
}

void child(std::string& out, const ChildReport& c, const std::string& path, const UsageHistory& h) {
    out += "{";
    field(out, "name", c.name);
    field(out, "path", path);
    field(out, "type", c.pool ? "pool" : c.type);
    field(out, "state", c.state);
    if (c.pid) field(out, "pid", *c.pid);
    if (c.uptime_ms) field(out, "uptime_ms", *c.uptime_ms);
    field(out, "restarts", c.restarts);
    if (c.cpu_ms) field(out, "cpu_ms", *c.cpu_ms);
    if (c.memory_bytes) field(out, "memory_bytes", *c.memory_bytes);
    if (c.last_exit) field(out, "last_exit", *c.last_exit);
    std::string cpu = "[", memory = "[";
    for (auto& s : h.of(path)) {
        cpu += (cpu.size() > 1 ? "," : "") + std::to_string(s.cpu_permille);
        memory += (memory.size() > 1 ? "," : "") + std::to_string(s.memory_bytes);
    }
    out += "\"cpu\": " + cpu + "], \"memory\": " + memory + "], \"instances\": [";
    const auto prefix = path.substr(0, path.size() - c.name.size());
    for (std::size_t i = 0; i < c.instances.size(); ++i) {
        if (i) out += ", ";
        child(out, c.instances[i], prefix + c.instances[i].name, h);
    }
    out += "], \"children\": [";
    for (std::size_t i = 0; i < c.children.size(); ++i) {
        if (i) out += ", ";
        child(out, c.children[i], path + "/" + c.children[i].name, h);
    }
    out += "]}";
}

}  // namespace

std::string tree_json(const TreeReport& r, const UsageHistory& history, const std::vector<const TreeEvent*>& timeline,
                      std::uint64_t now_ms) {
    std::string out = "{";
    field(out, "now", static_cast<std::int64_t>(now_ms));
    field(out, "pid", r.pid);
    field(out, "state", r.state);
    field(out, "restarts_in_window", r.restarts_in_window);
    field(out, "max_restarts", r.max_restarts);
    out += "\"children\": [";
    for (std::size_t i = 0; i < r.children.size(); ++i) {
        if (i) out += ", ";
        child(out, r.children[i], r.children[i].name, history);
    }
    out += "], \"timeline\": [";
    for (std::size_t i = 0; i < timeline.size(); ++i) {
        const auto& e = *timeline[i];
        out += i ? ", {" : "{";
        field(out, "t", static_cast<std::int64_t>(e.wall_ms));
        field(out, "event", e.kind);
        field(out, "path", e.path);
        out += "\"reason\": " + json_string(e.reason) + "}";
    }
    return out + "]}";
}

std::string child_json(std::string_view path, const std::vector<std::string>& lines,
                       const std::vector<const TreeEvent*>& deaths) {
    std::string out = "{\"path\": " + json_string(path) + ", \"lines\": [";
    for (std::size_t i = 0; i < lines.size(); ++i) out += (i ? ", " : "") + json_string(lines[i]);
    out += "], \"deaths\": [";
    for (std::size_t i = 0; i < deaths.size(); ++i) {
        const auto& e = *deaths[i];
        out += i ? ", {" : "{";
        field(out, "t", static_cast<std::int64_t>(e.wall_ms));
        field(out, "text", e.text);
        out += "\"reason\": " + json_string(e.reason) + "}";
    }
    return out + "]}";
}

std::string_view live_page_html() {
    return R"page(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>sequence: the tree</title>
<style>
  :root { --ok: #2e9e44; --busy: #d9a400; --down: #c8372d; --off: #8a8f98; --line: #e3e5e8; }
  body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #1d2329; background: #f7f8fa; }
  header { padding: 12px 20px; background: #1d2329; color: #fff; display: flex; gap: 24px; align-items: baseline; }
  header h1 { font-size: 17px; margin: 0; }
  header span { opacity: .8; }
  main { display: grid; grid-template-columns: minmax(0, 3fr) minmax(260px, 2fr); gap: 16px; padding: 16px 20px; }
  section { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 10px 14px; }
  h2 { font-size: 14px; margin: 4px 0 10px; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line); white-space: nowrap; }
  th { font-weight: 600; color: #555; font-size: 12px; }
  tr.child { cursor: pointer; }
  tr.child:hover, tr.picked { background: #eef3fb; }
  .dot { display: inline-block; width: 10px; height: 10px; border-radius: 50%; margin-right: 6px; vertical-align: middle; }
  .running { background: var(--ok); } .starting, .stopping, .waiting { background: var(--busy); }
  .down { background: var(--down); } .stopped { background: var(--off); }
  .num { text-align: right; font-variant-numeric: tabular-nums; }
  svg.spark { vertical-align: middle; }
  #timeline svg { width: 100%; height: 70px; }
  pre { background: #f3f4f6; padding: 8px; overflow: auto; max-height: 320px; font-size: 12px; margin: 4px 0 10px; }
  .muted { color: #777; }
</style>
</head>
<body>
<header><h1>sequence</h1><span id="summary">connecting…</span></header>
<main>
  <div>
    <section>
      <h2>Children</h2>
      <table>
        <thead><tr><th>child</th><th>state</th><th class="num">pid</th><th class="num">uptime</th>
          <th class="num">restarts</th><th>CPU (10 min)</th><th>memory (10 min)</th></tr></thead>
        <tbody id="tree"></tbody>
      </table>
    </section>
    <section id="timeline">
      <h2>Deaths and restarts, last hour</h2>
      <svg viewBox="0 0 600 70" preserveAspectRatio="none" id="marks"></svg>
      <div class="muted"><span style="color:var(--down)">●</span> exited &nbsp;
        <span style="color:var(--busy)">●</span> restarted &nbsp; (an hour ago on the left, now on the right)</div>
    </section>
  </div>
  <section id="detail"><h2>Pick a child</h2><p class="muted">Its last lines and deaths show here.</p></section>
</main>
<script>
"use strict";
let picked = null;
const el = (tag, attrs = {}, text) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
};
const svgEl = (tag, attrs) => {
  const e = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
};
function duration(ms) {
  if (ms === undefined) return "";
  const s = Math.floor(ms / 1000);
  if (s < 60) return s + "s";
  if (s < 3600) return Math.floor(s / 60) + "m " + (s % 60) + "s";
  return Math.floor(s / 3600) + "h " + Math.floor(s % 3600 / 60) + "m";
}
function bytes(n) {
  if (n === undefined) return "";
  const units = ["B", "KiB", "MiB", "GiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return n.toFixed(i ? 1 : 0) + " " + units[i];
}
function spark(values, label) {
  const w = 70, h = 18, s = svgEl("svg", {class: "spark", width: w, height: h, viewBox: `0 0 ${w} ${h}`});
  const t = svgEl("title", {}); t.textContent = label; s.appendChild(t);
  if (!values || values.length < 2) return s;
  const max = Math.max(...values, 1);
  const pts = values.map((v, i) => `${(i * (w - 2) / (values.length - 1) + 1).toFixed(1)},${(h - 1 - v * (h - 2) / max).toFixed(1)}`);
  s.appendChild(svgEl("polyline", {points: pts.join(" "), fill: "none", stroke: "#3b6fd4", "stroke-width": 1.5}));
  return s;
}
function rows(tbody, children, depth) {
  for (const c of children) {
    const tr = el("tr", {class: "child" + (picked === c.path ? " picked" : ""), "data-path": c.path, "data-state": c.state});
    const name = el("td", {style: `padding-left:${8 + depth * 18}px`});
    name.appendChild(el("span", {class: "dot " + c.state}));
    name.appendChild(el("span", {class: "name"}, c.name + (c.type === "worker" ? "" : "  (" + c.type + ")")));
    tr.appendChild(name);
    tr.appendChild(el("td", {class: "state"}, c.state));
    tr.appendChild(el("td", {class: "num pid"}, c.pid ?? ""));
    tr.appendChild(el("td", {class: "num uptime"}, duration(c.uptime_ms)));
    tr.appendChild(el("td", {class: "num restarts"}, String(c.restarts)));
    const cpu = el("td"); cpu.appendChild(spark(c.cpu, "CPU, ‰ of a core")); tr.appendChild(cpu);
    const mem = el("td"); mem.appendChild(spark(c.memory, "memory")); mem.appendChild(el("span", {class: "muted"}, " " + bytes(c.memory_bytes)));
    tr.appendChild(mem);
    tr.addEventListener("click", () => pick(c.path));
    tbody.appendChild(tr);
    rows(tbody, c.instances, depth + 1);
    rows(tbody, c.children, depth + 1);
  }
}
function timeline(events, now) {
  const svg = document.getElementById("marks");
  svg.replaceChildren();
  svg.appendChild(svgEl("line", {x1: 0, y1: 35, x2: 600, y2: 35, stroke: "#ccc"}));
  for (const e of events) {
    const x = 600 - (now - e.t) / 3600000 * 600;
    if (x < 0) continue;
    const dead = e.event === "exited";
    const m = svgEl("circle", {cx: x.toFixed(1), cy: dead ? 25 : 45, r: 4, fill: dead ? "var(--down)" : "var(--busy)"});
    const t = svgEl("title", {}); t.textContent = `${new Date(e.t).toLocaleTimeString()} ${e.event} ${e.path} ${e.reason}`;
    m.appendChild(t);
    svg.appendChild(m);
  }
}
async function pick(path) {
  picked = path;
  document.querySelectorAll("tr.child").forEach(r => r.classList.toggle("picked", r.dataset.path === path));
  const d = document.getElementById("detail");
  try {
    const r = await fetch("/child.json/" + encodeURIComponent(path), {cache: "no-store"});
    const j = await r.json();
    d.replaceChildren(el("h2", {}, path));
    d.appendChild(el("div", {class: "muted"}, "last lines"));
    const lines = el("pre", {id: "lines"}, j.lines.length ? j.lines.join("\n") : "(nothing written yet)");
    d.appendChild(lines);
    lines.scrollTop = lines.scrollHeight;  // the newest in view
    d.appendChild(el("div", {class: "muted"}, "last deaths"));
    d.appendChild(el("pre", {id: "deaths"}, j.deaths.length ?
      j.deaths.slice().reverse().map(x => `${new Date(x.t).toLocaleTimeString()} ${x.text} [${x.reason}]`).join("\n") : "(none)"));
  } catch (e) {
    d.replaceChildren(el("h2", {}, path), el("p", {class: "muted"}, "cannot read it: " + e));
  }
}
async function refresh() {
  try {
    const r = await fetch("/tree.json", {cache: "no-store"});
    const t = await r.json();
    const tbody = document.getElementById("tree");
    const fresh = el("tbody", {id: "tree"});
    rows(fresh, t.children, 0);
    tbody.replaceWith(fresh);
    timeline(t.timeline, t.now);
    document.getElementById("summary").textContent =
      `supervisor pid ${t.pid}, ${t.state}; restarts ${t.restarts_in_window} of ${t.max_restarts} in its window; updated ${new Date(t.now).toLocaleTimeString()}`;
  } catch (e) {
    document.getElementById("summary").textContent = "cannot reach the supervisor: " + e;
  }
  setTimeout(refresh, 500);
}
refresh();
</script>
</body>
</html>
)page";
}

}  // namespace seq::sup
