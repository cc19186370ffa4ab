// The Try it page (chapters/try_it.md): Korean text -> speech in the browser, offline.
//
// Every step of glow_tts.export.OnnxSynthesizer.run, for one sentence (batch 1):
//   1. frontend.mjs: text -> symbol ids (glow_tts.text, blanks as add_blank says);
//   2. model/encoder.onnx in onnxruntime-web: ids -> prior means x_m, log standard
//      deviations x_logs [1, c, t_x] and whole-frame durations w_ceil [1, t_x];
//   3. expandPrior (below): the NumPy steps of glow_tts.export.expand_prior;
//   4. noise: z = z_m + exp(z_logs) * noise * noise_scale (a seeded normal generator here,
//      not torch's, so the same settings give the same sound, but not Python's sample);
//   5. model/decoder.onnx: z -> mel [1, n_mel, t_y];
//   6. griffin_lim.mjs: mel -> waveform (glow_tts.audio.griffin_lim), then a WAV file.
// tools/build_book.py copies this file, its imports, onnxruntime-web and the model into
// site/tryit/; tests/test_tryit.py drives the page in Chromium.

import * as ort from "./ort/ort.wasm.min.mjs";
import { makeFrontend, UnknownSymbolError } from "./frontend.mjs";
import { encodeWav, loadVocoderTables, melToWav } from "./griffin_lim.mjs";

const BASE = new URL("./", import.meta.url);
const SEED = 1234;
const LABEL_FONT = '11px "Glow Book Hangul", sans-serif';   // the book's font has jamo

// Everything from this folder: no request leaves the site.
ort.env.wasm.wasmPaths = new URL("ort/", BASE).href;
ort.env.wasm.numThreads = 1;   // no SharedArrayBuffer without COOP/COEP headers
ort.env.wasm.proxy = false;

const $ = (id) => document.getElementById(id);

// Everything this module writes on the page, in English. This block is the source of the
// translations: tools/i18n.py reads it (one `name: "text"` entry each, adjacent strings
// joined by +) into the ui catalog, po/ko/ui.po, and the Korean edition's build writes the
// Korean of each entry into ko/tryit-messages.json, which say() uses on a page whose
// <html lang> is "ko". {name} is a placeholder say() fills in; a translation keeps each.
// messages:begin
const MESSAGES = {
  loading: "Loading the model and onnxruntime-web …",
  loadFailed: "The page could not load its files: {error}",
  ready: "Ready.",
  synthesizing: "Synthesizing …",
  done: "{tokens} tokens, {frames} frames, {seconds} s of audio, in {ms} ms.",
  noLetters: "The text has no letter the model can read: type some Korean.",
  tooLong: "The text makes {tokens} tokens; one pass takes at most {max}. Shorten it.",
  tooShort: "The model gave this text less than two frames: type a longer text.",
  unsupported: "Cannot read '{char}' (U+{codepoint}): the model has no symbol for it, and " +
    "the page does not drop it silently. Remove or replace it (numbers, counters and " +
    "Latin letters are read; other scripts and emoji are not).",
  run: "The model: {config}, trained {steps} steps by walkthrough 15; on the held-out test " +
    "sentences its duration error is {durationError} % and its mel error ratio {melRatio}.",
  runQuick: "The model: {config}, trained {steps} steps by walkthrough 15 (a quick build: " +
    "GLOW_TTS_QUICK=1); on the held-out test sentences its duration error is " +
    "{durationError} % and its mel error ratio {melRatio}.",
  blank: "(blank)",
};
// messages:end

// The page's language, and its edition's translations of MESSAGES (none for English).
const LANG = (document.documentElement.lang || "en").toLowerCase();
let translated = {};

async function loadMessages() {
  if (LANG === "en" || LANG.startsWith("en-")) return;
  const found = await fetchJson("../tryit-messages.json");   // beside the edition's page
  if (found.lang !== LANG) {
    throw new Error(`tryit-messages.json is for "${found.lang}", the page for "${LANG}"`);
  }
  translated = found.messages;
}

/** MESSAGES[name] in the page's language, each {placeholder} replaced by values' entry. */
function say(name, values = {}) {
  const template = translated[name] ?? MESSAGES[name];
  return template.replace(/\{(\w+)\}/g, (whole, key) => (key in values ? String(values[key]) : whole));
}

async function fetchJson(name) {
  const response = await fetch(new URL(name, BASE));
  if (!response.ok) throw new Error(`${name}: HTTP ${response.status}`);
  return response.json();
}

async function load() {
  const [tables, manifest, run, vocoder] = await Promise.all([
    fetchJson("frontend_tables.json"), fetchJson("model/export.json"),
    fetchJson("model/run.json"), loadVocoderTables(BASE.href)]);
  const options = { executionProviders: ["wasm"], graphOptimizationLevel: "all" };
  const [encoder, decoder] = await Promise.all([
    ort.InferenceSession.create(new URL("model/encoder.onnx", BASE).href, options),
    ort.InferenceSession.create(new URL("model/decoder.onnx", BASE).href, options)]);
  return { frontend: makeFrontend(tables), symbols: tables.symbols, manifest, run, vocoder,
           encoder, decoder };
}

/** Text -> ids as glow_tts.inference.text_to_ids makes them; a clear Error otherwise. */
function textToIds(model, text) {
  const { frontend, manifest, run } = model;
  let ids = frontend.textToSequence(text, manifest.text_cleaners);
  if (ids.length === 0) {
    throw new Error(say("noLetters"));
  }
  if (manifest.add_blank) ids = frontend.intersperse(ids);
  if (ids.length > run.max_tokens) {
    throw new Error(say("tooLong", { tokens: ids.length, max: run.max_tokens }));
  }
  return ids;
}

/** glow_tts.export.expand_prior for one item: durations -> the prior of every frame. */
function expandPrior(xM, xLogs, wCeil, xMask, channels, tX, nSqz) {
  let total = 0;
  for (let i = 0; i < tX; i++) total += wCeil[i];
  const tY = Math.floor(Math.max(total, 1) / nSqz) * nSqz;   // frames, a multiple of n_sqz
  const durations = new Int32Array(tX);                        // frames of each token, cut at tY
  const tokenOfFrame = new Int32Array(tY).fill(-1);
  let end = 0;
  for (let i = 0; i < tX; i++) {
    const start = end;
    end += wCeil[i];
    if (!xMask[i]) continue;
    for (let y = start; y < Math.min(end, tY); y++) tokenOfFrame[y] = i;
    durations[i] = Math.max(0, Math.min(end, tY) - Math.min(start, tY));
  }
  const zM = new Float32Array(channels * tY);
  const zLogs = new Float32Array(channels * tY);
  for (let c = 0; c < channels; c++) {
    for (let y = 0; y < tY; y++) {
      const i = tokenOfFrame[y];
      if (i < 0) continue;   // a frame no token owns stays 0, as attn's zero column gives
      zM[c * tY + y] = xM[c * tX + i];
      zLogs[c * tY + y] = xLogs[c * tX + i];
    }
  }
  return { zM, zLogs, tY, durations };
}

/** Standard normal numbers from a seed (mulberry32 and Box-Muller). */
function normals(n, seed) {
  let state = seed >>> 0;
  const uniform = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = new Float32Array(n);
  for (let k = 0; k < n; k += 2) {
    const r = Math.sqrt(-2 * Math.log(1 - uniform()));
    const angle = 2 * Math.PI * uniform();
    out[k] = r * Math.cos(angle);
    if (k + 1 < n) out[k + 1] = r * Math.sin(angle);
  }
  return out;
}

async function synthesize(model, ids, noiseScale, lengthScale) {
  const tX = ids.length;
  const encoded = await model.encoder.run({
    x: new ort.Tensor("int64", BigInt64Array.from(ids, BigInt), [1, tX]),
    x_lengths: new ort.Tensor("int64", BigInt64Array.from([BigInt(tX)]), [1]),
    length_scale: new ort.Tensor("float32", Float32Array.from([lengthScale]), []),
  });
  const channels = encoded.x_m.dims[1];
  const { zM, zLogs, tY, durations } = expandPrior(
    encoded.x_m.data, encoded.x_logs.data, encoded.w_ceil.data, encoded.x_mask.data,
    channels, tX, model.manifest.n_sqz);
  if (tY < 2) throw new Error(say("tooShort"));
  const noise = normals(channels * tY, SEED);
  const z = new Float32Array(channels * tY);
  for (let k = 0; k < z.length; k++) z[k] = zM[k] + Math.exp(zLogs[k]) * noise[k] * noiseScale;
  const { mel } = await model.decoder.run({
    z: new ort.Tensor("float32", z, [1, channels, tY]),
    z_mask: new ort.Tensor("float32", new Float32Array(tY).fill(1), [1, 1, tY]),
  });
  const nMel = mel.dims[1];
  const melData = Float32Array.from(mel.data);   // [n_mel][t_y], row-major
  const wav = melToWav(melData, nMel, tY, model.vocoder);
  return { mel: melData, nMel, tY, durations, wav };
}

// --- drawing ------------------------------------------------------------------------------

function colour(v) {   // 0..1 -> a dark-to-warm ramp
  const r = Math.min(255, Math.round(255 * Math.min(1, v * 1.6)));
  const g = Math.round(255 * Math.max(0, v - 0.35) * 1.5);
  const b = Math.round(255 * (v < 0.5 ? 0.3 + v * 0.6 : Math.max(0, 1.2 - v * 1.4)));
  return [r, Math.min(255, g), Math.max(0, b)];
}

function drawMel(canvas, mel, nMel, tY, durations, labels) {
  const ctx = canvas.getContext("2d");
  const width = canvas.width, height = canvas.height, melHeight = height - 18;
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, width, height);
  const image = ctx.createImageData(tY, nMel);
  const low = -11.5, high = 2;   // the log-mel range walkthrough 15 draws
  for (let m = 0; m < nMel; m++) {
    for (let t = 0; t < tY; t++) {
      const v = Math.min(1, Math.max(0, (mel[m * tY + t] - low) / (high - low)));
      const [r, g, b] = colour(v);
      const k = 4 * ((nMel - 1 - m) * tY + t);   // low frequencies at the bottom
      image.data.set([r, g, b, 255], k);
    }
  }
  const off = new OffscreenCanvas(tY, nMel);
  off.getContext("2d").putImageData(image, 0, 0);
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(off, 0, 0, width, melHeight);
  // token boundaries: the alignment the durations make
  const x = (frame) => (frame / tY) * width;
  ctx.strokeStyle = "rgba(255, 255, 255, 0.55)";
  ctx.fillStyle = "#333";
  ctx.font = LABEL_FONT;
  ctx.textAlign = "center";
  let frame = 0;
  durations.forEach((d, i) => {
    if (d > 0 && frame > 0) {
      ctx.beginPath();
      ctx.moveTo(x(frame) + 0.5, 0);
      ctx.lineTo(x(frame) + 0.5, melHeight);
      ctx.stroke();
    }
    if (d > 0 && labels[i]) ctx.fillText(labels[i], x(frame + d / 2), height - 4);
    frame += d;
  });
}

// --- the page -----------------------------------------------------------------------------

function symbolLabel(model, id) {
  if (id === model.symbols.length) return "";   // the blank of add_blank
  const s = model.symbols[id];
  return s === " " ? "␣" : s;
}

function showTokens(model, ids, durations) {
  const table = $("tryit-tokens");
  table.dataset.ids = ids.join(",");
  table.dataset.durations = Array.from(durations).join(",");
  const body = table.querySelector("tbody");
  body.replaceChildren();
  ids.forEach((id, i) => {
    const row = document.createElement("tr");
    const label = id === model.symbols.length ? say("blank") : symbolLabel(model, id);
    for (const value of [i, label, id, durations[i]]) {
      const cell = document.createElement("td");
      cell.textContent = String(value);
      row.append(cell);
    }
    body.append(row);
  });
  $("tryit-token-details").hidden = false;
}

function showError(message) {
  const box = $("tryit-error");
  box.textContent = message;
  box.hidden = false;
}

function describeRun(run) {
  return say(run.quick ? "runQuick" : "run", {
    config: run.config, steps: run.steps,
    durationError: (100 * run.duration_error).toFixed(1), melRatio: run.mel_ratio.toFixed(2) });
}

async function main() {
  const status = $("tryit-status");
  const button = $("tryit-synthesize");
  for (const [slider, shown] of [["tryit-noise", "tryit-noise-value"],
                                 ["tryit-length", "tryit-length-value"]]) {
    const update = () => { $(shown).textContent = Number($(slider).value).toFixed(2); };
    $(slider).addEventListener("input", update);
    update();
  }
  let model;
  try {
    await loadMessages();
    status.textContent = say("loading");
    model = await load();
  } catch (error) {
    status.textContent = "";
    showError(say("loadFailed", { error: error.message }));
    return;
  }
  $("tryit-run").textContent = describeRun(model.run);
  $("tryit-run").dataset.steps = model.run.steps;
  status.textContent = say("ready");
  button.disabled = false;

  button.addEventListener("click", async () => {
    $("tryit-error").hidden = true;
    button.disabled = true;
    status.textContent = say("synthesizing");
    const started = performance.now();
    try {
      const text = $("tryit-text").value;
      let ids;
      try {
        ids = textToIds(model, text);
      } catch (error) {
        if (error instanceof UnknownSymbolError) {
          const code = error.char.codePointAt(0).toString(16).toUpperCase().padStart(4, "0");
          throw new Error(say("unsupported", { char: error.char, codepoint: code }));
        }
        throw error;
      }
      const noiseScale = Number($("tryit-noise").value);
      const lengthScale = Number($("tryit-length").value);
      const out = await synthesize(model, ids, noiseScale, lengthScale);
      const rate = model.manifest.audio.sampling_rate;
      const audio = $("tryit-audio");
      if (audio.src) URL.revokeObjectURL(audio.src);
      audio.src = URL.createObjectURL(new Blob([encodeWav(out.wav, rate)], { type: "audio/wav" }));
      showTokens(model, ids, out.durations);
      await document.fonts.load(LABEL_FONT, "\u1100");   // a canvas does not wait for fonts
      drawMel($("tryit-mel"), out.mel, out.nMel, out.tY, out.durations,
              ids.map((id) => symbolLabel(model, id)));
      const seconds = out.wav.length / rate;
      status.textContent = say("done", {
        tokens: ids.length, frames: out.tY, seconds: seconds.toFixed(2),
        ms: Math.round(performance.now() - started) });
    } catch (error) {
      status.textContent = "";
      showError(error.message);
    } finally {
      button.disabled = false;
    }
  });
}

main();
