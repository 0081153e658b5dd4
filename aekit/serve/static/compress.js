"use strict";

const runSelect = document.getElementById("run");
const results = document.getElementById("results");
const file = document.getElementById("file");

function cell(cls, part, text) {
  const td = document.createElement("td");
  const box = labelled(text, image(part.image));
  box.querySelector("img").classList.add(cls);
  box.dataset.bytes = part.bytes;
  td.appendChild(box);
  return td;
}

function pillow(name, cls, part) {
  const size = part.fits ? `${part.bytes} bytes` : `${part.bytes} bytes (the smallest ${name}: larger)`;
  return cell(cls, part, `${name} quality ${part.quality}, ${size}, PSNR ${part.psnr.toFixed(2)} dB`);
}

function show(r) {
  const rows = r.levels.map((l) => {
    const tr = document.createElement("tr");
    tr.dataset.level = l.level;
    const level = document.createElement("td");
    level.textContent = l.level;
    tr.append(level, cell("aek", l, `${l.bytes} bytes, PSNR ${l.psnr.toFixed(2)} dB`),
      pillow("JPEG", "jpeg", l.jpeg), pillow("WebP", "webp", l.webp));
    return tr;
  });
  const coded = r.coding === "tiles" ? "coded in tiles" : "coded whole";
  document.getElementById("input").replaceChildren(labelled(`${r.width}x${r.height} as ${r.run} takes it, ${coded}`,
    image(r.input)));
  results.replaceChildren(...rows);
}

async function send(useFile) {
  showError("");
  results.dataset.state = "busy";
  try {
    const form = await pictureForm(pad, file, useFile);
    form.append("run", runSelect.value);
    show(await postForm("/api/compress", form));
    results.dataset.state = "done";
  } catch (e) {
    results.replaceChildren();
    results.dataset.state = "error";
    showError(e.message);
  }
}

const pad = new DrawPad(document.getElementById("pad"), () => send(false));
document.getElementById("clear").addEventListener("click", () => { pad.clear(); results.replaceChildren(); });
file.addEventListener("change", () => { if (file.files.length) send(true); });

(async () => {
  try {
    const runs = (await servedRuns()).filter((r) => r.compress);
    if (!runs.length) { showError("no compression run is served (train one with aekit train --preset compress)"); return; }
    fillSelect(runSelect, runs.map((r) => r.name));
    document.body.dataset.ready = "yes";
  } catch (e) { showError(e.message); }
})();
