// node web/run_vocoder.mjs TABLES JOBS.json: run web/griffin_lim.mjs on files, for
// tests/test_web_vocoder.py (which compares the results with Python) and for timing.
//
// TABLES is either a folder holding vocoder.json and mel_pinv.f32, or an http:// URL of one
// (then the tables come through loadVocoderTables, the browser's path; Node's fetch does
// not read file:// URLs). JOBS.json is a list of jobs, each one of
//   {fn: "griffinLim" | "melToWav", mel: PATH, nMel, nFrames, options: {...}, startPhase: PATH?, out: PATH, repeat?}
//   {fn: "encodeWav", samples: PATH, sampleRate, out: PATH}
// where PATH files are little-endian float32 (the mel row-major [nMel][nFrames], the start
// phase [nFft/2+1][nFrames]). Outputs: float32 samples, or the WAV bytes. stdout: a JSON list
// with, per job, the milliseconds of each of its `repeat` runs (default 1).
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { encodeWav, griffinLim, loadVocoderTables, makeVocoderTables, melToWav } from "./griffin_lim.mjs";

const readF32 = (path) => {
  const bytes = readFileSync(path);
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
};

const [where, jobsPath] = process.argv.slice(2);
const tables = /^https?:\/\//.test(where)
  ? await loadVocoderTables(where)
  : (() => {
      const pinv = readFileSync(join(where, "mel_pinv.f32"));
      return makeVocoderTables(JSON.parse(readFileSync(join(where, "vocoder.json"), "utf8")),
                               pinv.buffer.slice(pinv.byteOffset, pinv.byteOffset + pinv.byteLength));
    })();

const report = [];
for (const job of JSON.parse(readFileSync(jobsPath, "utf8"))) {
  const times = [];
  let result;
  for (let r = 0; r < (job.repeat ?? 1); r++) {
    const start = performance.now();
    if (job.fn === "encodeWav") {
      result = new Uint8Array(encodeWav(readF32(job.samples), job.sampleRate));
    } else {
      const options = { ...job.options };
      if (job.startPhase) options.startPhase = readF32(job.startPhase);
      const fn = { griffinLim, melToWav }[job.fn];
      if (!fn) throw new Error(`unknown job fn ${job.fn}`);
      result = fn(readF32(job.mel), job.nMel, job.nFrames, tables, options);
    }
    times.push(performance.now() - start);
  }
  writeFileSync(job.out, result instanceof Uint8Array ? result : new Uint8Array(result.buffer));
  report.push({ ms: times });
}
process.stdout.write(JSON.stringify(report));
