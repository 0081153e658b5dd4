// What every page shares: the navigation, the API calls, errors shown on the page, and the drawing pad.
"use strict";

const PAGES = [["/", "runs"], ["/reconstruct", "reconstruct"], ["/denoise", "denoise"], ["/compress", "compress"],
  ["/map", "latent map"], ["/swap", "swap"], ["/anomalies", "anomalies"]];

function nav() {
  const bar = document.createElement("nav");
  for (const [href, label] of PAGES) {
    const a = document.createElement("a");
    a.href = href;
    a.textContent = label;
    if (location.pathname === href) a.className = "here";
    bar.appendChild(a);
  }
  document.body.prepend(bar);
}

function showError(message) {
  document.getElementById("error").textContent = message || "";
}

async function answer(response) {
  let body;
  try { body = await response.json(); } catch (e) { body = { error: `the server answered ${response.status}` }; }
  if (!response.ok) throw new Error(body.error || `the server answered ${response.status}`);
  return body;
}

async function getJSON(url) {
  return answer(await fetch(url));
}

async function postForm(url, form) {
  return answer(await fetch(url, { method: "POST", body: form }));
}

async function servedRuns() {
  return (await getJSON("/api/runs")).runs;
}

function fillSelect(select, names) {
  select.replaceChildren(...names.map((name) => new Option(name, name)));
}

function image(src, cls = "px") {
  const im = document.createElement("img");
  im.src = src;
  im.className = cls;
  return im;
}

function labelled(text, ...children) {
  const box = document.createElement("div");
  box.className = "result";
  box.append(...children);
  const caption = document.createElement("span");
  caption.textContent = text;
  box.appendChild(caption);
  return box;
}

// A canvas to draw on with a mouse, a pen or a finger (pointer events): white ink on black, as MNIST's digits.
class DrawPad {
  constructor(canvas, onStroke) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d");
    this.drawn = false;
    this.clear();
    canvas.addEventListener("pointerdown", (e) => this.start(e));
    canvas.addEventListener("pointermove", (e) => this.move(e));
    canvas.addEventListener("pointerup", (e) => this.end(e, onStroke));
    canvas.addEventListener("pointercancel", (e) => this.end(e, onStroke));
  }
  clear() {
    this.ctx.fillStyle = "#000";
    this.ctx.fillRect(0, 0, this.canvas.width, this.canvas.height);
    this.drawn = false;
  }
  at(e) {
    const r = this.canvas.getBoundingClientRect();
    return [(e.clientX - r.left) * this.canvas.width / r.width, (e.clientY - r.top) * this.canvas.height / r.height];
  }
  start(e) {
    this.canvas.setPointerCapture(e.pointerId);
    this.last = this.at(e);
    this.line(this.last, this.last);
  }
  move(e) {
    if (!this.last) return;
    const p = this.at(e);
    this.line(this.last, p);
    this.last = p;
  }
  end(e, onStroke) {
    if (!this.last) return;
    this.last = null;
    this.drawn = true;
    onStroke();
  }
  line(a, b) {
    const c = this.ctx;
    c.strokeStyle = "#fff";
    c.lineWidth = this.canvas.width / 14;
    c.lineCap = "round";
    c.lineJoin = "round";
    c.beginPath();
    c.moveTo(a[0], a[1]);
    c.lineTo(b[0], b[1]);
    c.stroke();
  }
  blob() {
    return new Promise((resolve) => this.canvas.toBlob(resolve, "image/png"));
  }
}

// The picture a page sends: the pad's drawing, or the chosen file.
async function pictureForm(pad, fileInput, useFile) {
  const form = new FormData();
  if (useFile) {
    form.append("image", fileInput.files[0]);
    form.append("source", "upload");
  } else {
    form.append("image", await pad.blob(), "drawing.png");
    form.append("source", "drawing");
  }
  return form;
}

nav();
