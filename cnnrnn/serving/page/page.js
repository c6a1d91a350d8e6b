// The page of `cnnrnn serve`: asks GET /v1/model what the run does, then
// offers the matching input and shows what POST /v1/predict answers.
"use strict";

const $ = (id) => document.getElementById(id);
const VERBS = {
  classify: "Classify", caption: "Caption", generate: "Generate", forecast: "Forecast",
};
const FILES = {
  image: ["Choose an image", "image/*"],
  video: ["Choose a video", "video/*,.mp4,.avi,.webm,.mkv,.mov"],
  table: ["Choose a CSV file", ".csv,text/csv"],
};
let model = null;
let previewUrl = null;

class ApiError extends Error {}

// Calls the API, with the token if one was given; an error status throws the
// server's one-line error.
async function api(path, options = {}) {
  const headers = { ...options.headers };
  const token = $("token").value.trim();
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetch(path, { ...options, headers });
  if (response.ok) return response;
  let message = `The server answered ${response.status} ${response.statusText}.`;
  try {
    message = (await response.json()).error || message;
  } catch {
    // not JSON: keep the status line
  }
  if (response.status === 401) {
    $("token-form").hidden = false;
    $("token").focus();
  }
  throw new ApiError(message);
}

function showError(message) {
  $("error").textContent = message;
  $("error").hidden = false;
}

function clearError() {
  $("error").hidden = true;
  $("error").textContent = "";
}

// Builds an element: el("li", {className: "x"}, child, "text", ...).
function el(tag, properties = {}, ...children) {
  const node = Object.assign(document.createElement(tag), properties);
  node.append(...children);
  return node;
}

async function load() {
  clearError();
  try {
    model = await (await api("/v1/model")).json();
  } catch (error) {
    $("summary").textContent = "The model could not be loaded.";
    return showError(error.message);
  }
  $("token-form").hidden = true;
  $("title").textContent = model.application;
  document.title = `${model.application} · cnnrnn serve`;
  $("summary").replaceChildren(
    "run ", el("code", { textContent: model.run }), ` · ${model.summary}`);

  const file = FILES[model.input];
  $("drop").hidden = !file;
  $("text-field").hidden = Boolean(file);
  if (file) {
    [$("file-label").textContent, $("file").accept] = file;
  } else {
    $("text-label").textContent =
      model.task === "generate" ? "Text to continue" : "Text to classify";
  }
  $("sampling").hidden = model.task !== "generate";
  $("length").max = model.limits.max_length;
  const classes = model.classes ? ` Classes: ${model.classes.join(", ")}.` : "";
  $("hint").textContent = `Input: ${model.input_description}.${classes}`;
  $("submit").textContent = VERBS[model.task];
  $("form").hidden = false;

  const v = model.versions;
  $("about").replaceChildren(
    `cnnrnn ${v.cnnrnn} · Keras ${v.keras} (${v.backend}) · `,
    el("a", { href: "/docs", textContent: "API docs" }));
}

function showPreview() {
  const chosen = $("file").files[0];
  if (previewUrl) URL.revokeObjectURL(previewUrl);
  previewUrl = chosen && model?.input === "image" ? URL.createObjectURL(chosen) : null;
  $("preview").hidden = !previewUrl;
  if (previewUrl) $("preview").src = previewUrl;
}

// The request body: a form with the file, or JSON with the text.
function request() {
  const options = {};
  if (model.task === "classify" && model.classes) {
    options.top_k = Math.min(model.classes.length, 5);
  }
  if (model.task === "generate") {
    options.stream = true;
    for (const name of ["temperature", "length"]) {
      if ($(name).value !== "") options[name] = Number($(name).value);
    }
  }
  if (model.input === "text") {
    return {
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ inputs: [$("text").value], ...options }),
    };
  }
  const chosen = $("file").files[0];
  if (!chosen) throw new ApiError("Choose a file first.");
  const form = new FormData();
  form.append("files", chosen);
  for (const [name, value] of Object.entries(options)) form.append(name, value);
  return { body: form };
}

async function submit(event) {
  event.preventDefault();
  clearError();
  $("submit").disabled = true;
  $("results").setAttribute("aria-busy", "true");
  $("results").replaceChildren();
  try {
    const response = await api("/v1/predict", { method: "POST", ...request() });
    if (response.headers.get("Content-Type")?.startsWith("text/event-stream")) {
      await showStream(response);
    } else {
      showPredictions((await response.json()).predictions);
    }
  } catch (error) {
    const known = error instanceof ApiError;
    showError(known ? error.message : `The request failed: ${error.message}`);
  } finally {
    $("submit").disabled = false;
    $("results").removeAttribute("aria-busy");
  }
}

function showPredictions(predictions) {
  for (const found of predictions) {
    if (model.task === "generate") {
      $("results").append(generatedText(found.input, found.text));
    } else if (model.task === "forecast") {
      $("results").append(forecastTable(found));
    } else if (model.task === "caption") {
      const [best] = found.predictions;
      $("results").append(el("figure", { className: "prediction caption" },
        el("figcaption", { className: "muted", textContent: `Caption of ${found.input}` }),
        el("blockquote", { className: "label", textContent: best.label })));
    } else {
      $("results").append(classBars(found));
    }
  }
}

function percent(probability) {
  return `${(probability * 100).toFixed(1)}%`;
}

function classBars(found) {
  const bars = found.predictions.map(({ label, probability }) => {
    const bar = el("span", { className: "bar" }, el("span", { className: "fill" }));
    bar.firstChild.style.width = percent(probability);
    return el("li", { className: "prediction" },
      el("span", { className: "label", textContent: label }), bar,
      el("span", { className: "probability", textContent: percent(probability) }));
  });
  const heading = model.input === "text" ? [] : [el("h2", { textContent: found.input })];
  return el("div", { className: "result" },
    ...heading, el("ol", { className: "predictions" }, ...bars));
}

function forecastTable(found) {
  const steps = found.predictions;
  const columns = Object.keys(steps[0] || {});
  const row = (cells, tag) =>
    el("tr", {}, ...cells.map((text) => el(tag, { textContent: text })));
  const format = (value) =>
    (typeof value === "number" && !Number.isInteger(value) ? value.toPrecision(5) : `${value}`);
  return el("table", { className: "forecast" },
    el("caption", { textContent: `Forecast from ${found.input}` }),
    el("thead", {}, row(columns, "th")),
    el("tbody", {}, ...steps.map((step) => row(columns.map((c) => format(step[c])), "td"))));
}

function generatedText(seed, text) {
  return el("pre", { id: "generated", className: "generated" },
    el("span", { className: "seed", textContent: seed }),
    el("span", { className: "text", textContent: text }));
}

// Reads server-sent events from a POST answer: `data: {"text": "c"}` per
// character, then `event: end`.
async function showStream(response) {
  const shown = generatedText($("text").value, "");
  $("results").append(shown);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value.replace(/\r\n?/g, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const fields = Object.fromEntries(block.split("\n").map((line) => {
        const colon = line.indexOf(":");
        return [line.slice(0, colon), line.slice(colon + 1).trimStart()];
      }));
      if (fields.event === "end") return reader.cancel();
      if (fields.data) shown.lastChild.textContent += JSON.parse(fields.data).text;
    }
  }
}

function setUpDropZone() {
  const zone = $("drop");
  for (const name of ["dragenter", "dragover"]) {
    zone.addEventListener(name, (event) => {
      event.preventDefault();
      zone.classList.add("over");
    });
  }
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    if (!event.dataTransfer.files.length) return;
    $("file").files = event.dataTransfer.files;
    showPreview();
  });
}

document.addEventListener("DOMContentLoaded", () => {
  $("form").addEventListener("submit", submit);
  $("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    load();
  });
  $("file").addEventListener("change", showPreview);
  $("preview").addEventListener("error", () => { $("preview").hidden = true; });
  setUpDropZone();
  load();
});
