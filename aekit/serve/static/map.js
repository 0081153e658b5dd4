"use strict";

const COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
  "#17becf"];
const canvas = document.getElementById("map");
const ctx = canvas.getContext("2d");
const runSelect = document.getElementById("run");
const decoded = document.getElementById("decoded");
const state = { runs: [], map: null, box: null, nearest: null, a: null, b: null, hover: 0 };

// The map's data bounds with a margin, and conversions between canvas pixels and map coordinates.
function frame(points) {
  const xs = points.map((p) => p[0]), ys = points.map((p) => p[1]);
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const mx = (x1 - x0 || 1) * 0.05, my = (y1 - y0 || 1) * 0.05;
  return { x0: x0 - mx, x1: x1 + mx, y0: y0 - my, y1: y1 + my };
}
function toCanvas(p) {
  const b = state.box;
  return [(p[0] - b.x0) / (b.x1 - b.x0) * canvas.width, (b.y1 - p[1]) / (b.y1 - b.y0) * canvas.height];
}
function toMap(e) {
  const r = canvas.getBoundingClientRect(), b = state.box;
  const u = (e.clientX - r.left) / r.width, v = (e.clientY - r.top) / r.height;
  return [b.x0 + u * (b.x1 - b.x0), b.y1 - v * (b.y1 - b.y0)];
}

function draw() {
  const m = state.map;
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  const classes = m.labels ? [...new Set(m.labels)].sort() : [];
  m.points.forEach((p, i) => {
    const [x, y] = toCanvas(p);
    ctx.fillStyle = m.labels ? COLOURS[classes.indexOf(m.labels[i]) % COLOURS.length] : COLOURS[0];
    ctx.globalAlpha = 0.7;
    ctx.fillRect(x - 2, y - 2, 4, 4);
  });
  ctx.globalAlpha = 1;
  document.getElementById("legend").replaceChildren(...classes.map((c, i) => {
    const s = document.createElement("span"), sw = document.createElement("i");
    sw.style.background = COLOURS[i % COLOURS.length];
    s.append(sw, c);
    return s;
  }));
}

async function load() {
  const name = runSelect.value;
  showError("");
  try {
    state.map = await getJSON(`/api/map/${encodeURIComponent(name)}`);
    state.box = frame(state.map.points);
    state.a = state.b = null;
    document.getElementById("projection").textContent = state.map.pca
      ? `Axes: ${state.map.projection}; a click decodes the point mapped back into the code space (the PCA's inverse).`
      : `Axes: ${state.map.projection}; a click decodes that code.`;
    const run = state.runs.find((r) => r.name === name);
    document.getElementById("sample").disabled = !run.generative;
    document.getElementById("sample-note").textContent = run.generative ? "" : "this run has no prior to sample";
    draw();
    canvas.dataset.ready = name;
  } catch (e) { showError(e.message); }
}

async function decodeAt(e) {
  const [x, y] = toMap(e);
  try {
    const r = await getJSON(`/api/map/${encodeURIComponent(runSelect.value)}/decode?x=${x}&y=${y}`);
    decoded.src = r.image;
    decoded.dataset.x = r.x;
    decoded.dataset.y = r.y;
    document.getElementById("decoded-at").textContent = `decoded at (${r.x.toFixed(3)}, ${r.y.toFixed(3)})`;
  } catch (err) { showError(err.message); }
}

async function nearestTo(e) {
  const now = Date.now();
  if (now - state.hover < 60) return;  // at most ~16 requests a second while the pointer moves
  state.hover = now;
  const [x, y] = toMap(e);
  try {
    const r = await getJSON(`/api/map/${encodeURIComponent(runSelect.value)}/nearest?x=${x}&y=${y}`);
    state.nearest = r.index;
    document.getElementById("nearest").src = r.image;
    document.getElementById("nearest-label").textContent = `test image ${r.index}` + (r.label ? `, label ${r.label}` : "");
  } catch (err) { showError(err.message); }
}

async function between() {
  if (state.a === null || state.b === null) return;
  const t = document.getElementById("t").value / 100;
  try {
    const r = await getJSON(`/api/map/${encodeURIComponent(runSelect.value)}/interpolate?a=${state.a}&b=${state.b}&t=${t}`);
    document.getElementById("between").src = r.image;
  } catch (err) { showError(err.message); }
}

function setEnd(which) {
  if (state.nearest === null) { showError("hover over the map first: A and B are the nearest test images"); return; }
  state[which] = state.nearest;
  document.getElementById("ab").textContent = `A: ${state.a ?? "-"}, B: ${state.b ?? "-"}`;
  document.getElementById("t").disabled = state.a === null || state.b === null;
  between();
}

async function samples() {
  try {
    const r = await getJSON(`/api/samples/${encodeURIComponent(runSelect.value)}?n=16&seed=${Math.floor(Math.random() * 1e6)}`);
    document.getElementById("samples").replaceChildren(...r.images.map((src) => image(src, "px small")));
  } catch (err) { showError(err.message); }
}

canvas.addEventListener("click", decodeAt);
canvas.addEventListener("pointermove", nearestTo);
runSelect.addEventListener("change", load);
document.getElementById("set-a").addEventListener("click", () => setEnd("a"));
document.getElementById("set-b").addEventListener("click", () => setEnd("b"));
document.getElementById("t").addEventListener("input", between);
document.getElementById("sample").addEventListener("click", samples);

(async () => {
  try {
    state.runs = (await servedRuns()).filter((r) => !r.table);
    fillSelect(runSelect, state.runs.map((r) => r.name));
    const wanted = new URLSearchParams(location.search).get("run");
    if (wanted) runSelect.value = wanted;
    if (state.runs.length) await load();
    else showError("no image run is served");
  } catch (e) { showError(e.message); }
})();
