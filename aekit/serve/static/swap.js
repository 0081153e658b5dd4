"use strict";

const runSelect = document.getElementById("run");
const results = document.getElementById("results");
const file = document.getElementById("file");
let runs = [];

function download(part, label) {
  const a = document.createElement("a");
  a.href = part.download;
  a.download = part.file;
  a.textContent = `download ${label}`;
  a.className = `download-${label}`;
  return labelled(label, image(part.image), a);
}

async function send(useFile) {
  showError("");
  results.dataset.state = "busy";
  try {
    const form = await pictureForm(pad, file, useFile);
    form.append("run", runSelect.value);
    form.append("from", document.getElementById("from").value);
    form.append("to", document.getElementById("to").value);
    const r = await postForm("/api/swap", form);
    results.replaceChildren(labelled("input", image(r.input)), download(r.reconstruction, "reconstruction"),
      download(r.swap, "swap"));
    results.dataset.state = "done";
  } catch (e) {
    results.replaceChildren();
    results.dataset.state = "error";
    showError(e.message);
  }
}

function domains() {
  const run = runs.find((r) => r.name === runSelect.value);
  fillSelect(document.getElementById("from"), run.domains);
  fillSelect(document.getElementById("to"), run.domains);
  if (run.domains.length > 1) document.getElementById("to").value = run.domains[1];
}

const pad = new DrawPad(document.getElementById("pad"), () => {});
document.getElementById("clear").addEventListener("click", () => pad.clear());
document.getElementById("go").addEventListener("click", () => send(false));
file.addEventListener("change", () => { if (file.files.length) send(true); });
runSelect.addEventListener("change", domains);

(async () => {
  try {
    runs = (await servedRuns()).filter((r) => r.domains.length);
    if (!runs.length) { showError("no swap run is served (train one with aekit swap-train)"); return; }
    fillSelect(runSelect, runs.map((r) => r.name));
    domains();
  } catch (e) { showError(e.message); }
})();
