"use strict";

const runSelect = document.getElementById("run");
const files = document.getElementById("files");
const results = document.getElementById("results");
let runs = [];

function row(r) {
  const tr = document.createElement("tr");
  tr.dataset.name = r.name;
  tr.dataset.score = r.score;
  const cells = [r.rank, r.label === undefined ? r.name : `${r.name} (label ${r.label})`, r.score.toPrecision(4)];
  for (const text of cells) {
    const td = document.createElement("td");
    td.textContent = text;
    tr.appendChild(td);
  }
  const td = document.createElement("td");
  if (r.image) td.appendChild(image(r.image, "px small"));
  tr.appendChild(td);
  return tr;
}

async function send() {
  if (!files.files.length) return;
  showError("");
  results.dataset.state = "busy";
  try {
    const form = new FormData();
    form.append("run", runSelect.value);
    for (const f of files.files) form.append("files", f);
    const r = await postForm("/api/anomalies", form);
    document.getElementById("summary").textContent =
      `${r.rows.length} ${r.kind} scored by ${r.run} (score: ${r.score}), the most anomalous first`;
    results.replaceChildren(...r.rows.map(row));
    results.dataset.state = "done";
  } catch (e) {
    results.replaceChildren();
    document.getElementById("summary").textContent = "";
    results.dataset.state = "error";
    showError(e.message);
  }
}

function accepts() {
  const run = runs.find((r) => r.name === runSelect.value);
  if (!run) return;
  files.accept = run.table ? ".csv,text/csv" : "image/png,image/jpeg,image/webp,image/bmp";
  files.multiple = !run.table;
  document.getElementById("accepts").textContent = run.table ? "one CSV file" : "images";
}

files.addEventListener("change", send);
runSelect.addEventListener("change", () => { accepts(); send(); });

(async () => {
  try {
    runs = (await servedRuns()).filter((r) => !r.domains.length);
    fillSelect(runSelect, runs.map((r) => r.name));
    const wanted = new URLSearchParams(location.search).get("run");
    if (wanted) runSelect.value = wanted;
    accepts();
    document.body.dataset.ready = "yes";
  } catch (e) { showError(e.message); }
})();
