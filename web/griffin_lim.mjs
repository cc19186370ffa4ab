// Griffin-Lim in the browser: glow_tts.audio.griffin_lim and the peak scaling of
// glow_tts.inference.mel_to_wav, in plain JavaScript (no dependencies; Chromium and Node 20).
//
// The page's decoder (ONNX) gives a log-mel [n_mel, F]; this turns it into samples the way
// the Python package does, step for step:
//
//   1. magnitude = max(pinv(mel_basis) @ exp(mel), 0)        [n_fft/2+1, F], linear STFT magnitude
//   2. start from a random phase, then 32 times: inverse STFT -> STFT of that waveform ->
//      keep its phase ("fast" Griffin-Lim: with momentum 0.99 added to the phase update)
//   3. one last inverse STFT, (F - 1) * hop samples
//   4. (melToWav) a waveform louder than WAV_PEAK is scaled down as a whole to that peak
//
// The STFT is torch.stft's: periodic Hann window, frames every `hop` samples, center=True
// (the signal is padded by n_fft/2 at both ends by reflection), one-sided spectrum. The
// inverse STFT is torch.istft's: overlap-add of windowed frames divided by the overlap-added
// squared window, then cut to `length` samples starting n_fft/2 in.
//
// Nothing here is a table kept by hand: the pseudo-inverse of the mel filterbank, the STFT
// sizes, WAV_PEAK, the iteration count and the momentum come from the Python package
// through tools/export_web_tables.py (--vocoder-config/--vocoder-out); loadVocoderTables
// fetches them. tests/test_web_vocoder.py runs this file under Node and compares it with
// Python (same waveform from the same start phase; close spectrogram from its own).
//
// All arithmetic is in float64 (JavaScript numbers); the Python reference runs in float32,
// so the two differ by rounding only.

// --------------------------------------------------------------------------------------
// Real FFT
// --------------------------------------------------------------------------------------

/**
 * FFT of a real signal of length n (a power of two), and its inverse.
 *
 * A real signal of n samples is packed into a complex one of m = n/2 samples
 * (z[k] = x[2k] + i x[2k+1]); one complex FFT of size m, plus an O(n) "split" step that
 * separates the even and odd samples' spectra again, gives the n/2 + 1 bins of the real
 * FFT. That is half the work of a complex FFT of size n, which is what makes 32
 * Griffin-Lim iterations fit in a fraction of a second.
 *
 * The complex FFT is the textbook iterative radix-2 one: inputs in bit-reversed order,
 * then log2(m) passes of butterflies, each pass combining pairs of half-size transforms.
 * Every table (bit reversal, twiddle factors) is computed once in the constructor.
 */
export class RealFFT {
  /** @param {number} n  transform size in samples, a power of two >= 8 (1024 here) */
  constructor(n) {
    if (!Number.isInteger(n) || n < 8 || (n & (n - 1)) !== 0) {
      throw new RangeError(`RealFFT: size must be a power of two >= 8, got ${n} (nFft in vocoder.json)`);
    }
    const m = n / 2;
    this.n = n;
    this.m = m;
    this.bins = m + 1;
    // bitrev[k]: k with its log2(m) bits reversed (where input k goes before the passes).
    const bits = Math.log2(m);
    this.bitrev = new Uint32Array(m);
    for (let k = 0; k < m; k++) {
      let r = 0;
      for (let b = 0, v = k; b < bits; b++, v >>= 1) r = (r << 1) | (v & 1);
      this.bitrev[k] = r;
    }
    // Twiddles of the size-m complex FFT: e^{-2 pi i j / m} = cos - i sin, j < m/2.
    this.cos = new Float64Array(m / 2);
    this.sin = new Float64Array(m / 2);
    for (let j = 0; j < m / 2; j++) {
      this.cos[j] = Math.cos((2 * Math.PI * j) / m);
      this.sin[j] = Math.sin((2 * Math.PI * j) / m);
    }
    // Twiddles of the split step: e^{-2 pi i k / n}, k = 0 .. m.
    this.splitCos = new Float64Array(m + 1);
    this.splitSin = new Float64Array(m + 1);
    for (let k = 0; k <= m; k++) {
      this.splitCos[k] = Math.cos((2 * Math.PI * k) / n);
      this.splitSin[k] = Math.sin((2 * Math.PI * k) / n);
    }
    this.re = new Float64Array(m); // work space of the complex FFT
    this.im = new Float64Array(m);
  }

  /**
   * In-place complex FFT of (this.re, this.im), whose inputs are already in bit-reversed
   * order. `sign` -1: forward, e^{-i...}; +1: inverse without the 1/m (the caller scales).
   */
  _butterflies(sign) {
    const { re, im, m, cos, sin } = this;
    // Passes 1 and 2 (sizes 2 and 4) together: their twiddles are 1 and -i (forward) or +i
    // (inverse), so they need no multiplications. This alone saves ~15% of the FFT's time.
    for (let a = 0; a < m; a += 4) {
      const r0 = re[a], i0 = im[a], r1 = re[a + 1], i1 = im[a + 1];
      const r2 = re[a + 2], i2 = im[a + 2], r3 = re[a + 3], i3 = im[a + 3];
      const s0r = r0 + r1, s0i = i0 + i1, d0r = r0 - r1, d0i = i0 - i1; // size 2: [0,1]
      const s1r = r2 + r3, s1i = i2 + i3, d1r = r2 - r3, d1i = i2 - i3; // size 2: [2,3]
      const tr = -sign * d1i, ti = sign * d1r; // (d1r + i d1i) times (sign * i)
      re[a] = s0r + s1r; im[a] = s0i + s1i;
      re[a + 2] = s0r - s1r; im[a + 2] = s0i - s1i;
      re[a + 1] = d0r + tr; im[a + 1] = d0i + ti;
      re[a + 3] = d0r - tr; im[a + 3] = d0i - ti;
    }
    // The other passes: sizes 8, 16, ..., m. A butterfly combines element a of the first
    // half-size transform with element b = a + half of the second, times twiddle w^j.
    for (let size = 8; size <= m; size *= 2) {
      const half = size / 2;
      const step = m / size; // twiddle index stride: e^{-2 pi i j / size} = table[j * step]
      for (let j = 0; j < half; j++) {
        const wr = cos[j * step];
        const wi = sign * sin[j * step];
        for (let a = j; a < m; a += size) {
          const b = a + half;
          const tr = re[b] * wr - im[b] * wi;
          const ti = re[b] * wi + im[b] * wr;
          re[b] = re[a] - tr;
          im[b] = im[a] - ti;
          re[a] += tr;
          im[a] += ti;
        }
      }
    }
  }

  /**
   * Forward real FFT, unnormalised (as numpy.fft.rfft / torch.fft.rfft) of the n samples
   * x[offset .. offset + n), each times window[i] when a window is given: one STFT frame,
   * read straight from the padded signal without copying it out first.
   * @param {Float64Array} x       real samples (at least offset + n)
   * @param {Float64Array} outRe   n/2 + 1 bins, real parts (written)
   * @param {Float64Array} outIm   n/2 + 1 bins, imaginary parts (written)
   * @param {number} [offset=0]    first sample
   * @param {Float64Array} [window] n weights, or null for none
   */
  forward(x, outRe, outIm, offset = 0, window = null) {
    const { re, im, m, bitrev, splitCos, splitSin } = this;
    // Pack even samples as real parts, odd ones as imaginary parts, in bit-reversed order.
    if (window) {
      for (let k = 0; k < m; k++) {
        const j = bitrev[k];
        re[j] = x[offset + 2 * k] * window[2 * k];
        im[j] = x[offset + 2 * k + 1] * window[2 * k + 1];
      }
    } else {
      for (let k = 0; k < m; k++) {
        const j = bitrev[k];
        re[j] = x[offset + 2 * k];
        im[j] = x[offset + 2 * k + 1];
      }
    }
    this._butterflies(-1);
    // Z = E + iO, with E, O the spectra of the even and odd samples. Both are spectra of real
    // signals (conjugate-symmetric), so E[k] = (Z[k] + conj Z[m-k]) / 2 and
    // O[k] = (Z[k] - conj Z[m-k]) / 2i; then X[k] = E[k] + e^{-2 pi i k / n} O[k].
    for (let k = 0; k <= m; k++) {
      const a = k === m ? 0 : k;
      const b = k === 0 ? 0 : m - k;
      const zr = re[a], zi = im[a], cr = re[b], ci = -im[b]; // Z[k] and conj Z[m-k]
      const er = 0.5 * (zr + cr), ei = 0.5 * (zi + ci);
      const or = 0.5 * (zi - ci), oi = -0.5 * (zr - cr); // (Z - conj Z') / 2i
      const c = splitCos[k], s = splitSin[k]; // e^{-i theta} = c - i s
      outRe[k] = er + c * or + s * oi;
      outIm[k] = ei + c * oi - s * or;
    }
  }

  /**
   * Inverse real FFT with the 1/n scaling (as torch.fft.irfft): n/2 + 1 bins -> n samples,
   * written to out[offset .. offset + n). With a window, the samples times window[i] are
   * instead ADDED there: the overlap-add step of an inverse STFT.
   * Like every C2R transform, it ignores the imaginary parts of bin 0 and bin n/2 (a real
   * signal has none there).
   * @param {Float64Array} inRe    n/2 + 1 bins, real parts
   * @param {Float64Array} inIm    n/2 + 1 bins, imaginary parts
   * @param {Float64Array} out     real samples (at least offset + n)
   * @param {number} [offset=0]    first sample
   * @param {Float64Array} [window] n weights (overlap-add), or null (plain write)
   */
  inverse(inRe, inIm, out, offset = 0, window = null) {
    const { re, im, m, bitrev, splitCos, splitSin } = this;
    // Undo the split: E[k] = (X[k] + conj X[m-k]) / 2, O[k] = (X[k] - conj X[m-k]) e^{+2 pi i k/n} / 2,
    // and Z[k] = E[k] + i O[k] is the spectrum of z[j] = x[2j] + i x[2j+1].
    for (let k = 0; k < m; k++) {
      const xr = inRe[k], xi = k === 0 ? 0 : inIm[k];
      const cr = inRe[m - k], ci = k === 0 ? 0 : -inIm[m - k]; // conj X[m-k]
      const er = 0.5 * (xr + cr), ei = 0.5 * (xi + ci);
      const dr = 0.5 * (xr - cr), di = 0.5 * (xi - ci);
      const c = splitCos[k], s = splitSin[k]; // e^{+i theta} = c + i s
      const or = dr * c - di * s, oi = dr * s + di * c;
      const j = bitrev[k];
      re[j] = er - oi;
      im[j] = ei + or;
    }
    this._butterflies(+1);
    const scale = 1 / m; // the inverse size-m FFT's 1/m; the split already halved
    if (window) {
      for (let k = 0; k < m; k++) {
        out[offset + 2 * k] += re[k] * scale * window[2 * k];
        out[offset + 2 * k + 1] += im[k] * scale * window[2 * k + 1];
      }
    } else {
      for (let k = 0; k < m; k++) {
        out[offset + 2 * k] = re[k] * scale;
        out[offset + 2 * k + 1] = im[k] * scale;
      }
    }
  }
}

// --------------------------------------------------------------------------------------
// Griffin-Lim
// --------------------------------------------------------------------------------------

/**
 * Periodic Hann window of `win` samples, zero-padded on both sides to `nFft` as torch.stft
 * does when win_length < n_fft (left pad (nFft - win) / 2, rounded down).
 * @returns {Float64Array} [nFft]
 */
export function hannWindow(win, nFft) {
  const w = new Float64Array(nFft);
  const left = Math.floor((nFft - win) / 2);
  for (let i = 0; i < win; i++) w[left + i] = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / win);
  return w;
}

/**
 * The seeded start phase when no startPhase is given: uniform angles in [0, 2 pi) from
 * xorshift32 (Marsaglia 2003), so a seed gives the same waveform on every call and in
 * every browser. It cannot reproduce torch's generator, so its waveform differs from
 * Python's sample by sample; its spectrogram does not (see tests/test_web_vocoder.py).
 * @returns {() => number} uniform in [0, 1), 24 bits
 */
function uniformRandom(seed) {
  let state = (Math.imul(seed | 0, 0x9e3779b9) ^ 0x6d2b79f5) >>> 0 || 1; // never 0: xorshift would stay 0
  return () => {
    state ^= state << 13; state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5; state >>>= 0;
    return (state >>> 8) / 16777216; // top 24 bits
  };
}

function checkTables(tables, nMel) {
  if (!tables || typeof tables !== "object") throw new TypeError("griffinLim: tables must be the object loadVocoderTables returns");
  const { melPinv, nFft, hop, win } = tables;
  for (const [name, value] of Object.entries({ nFft, hop, win })) {
    if (!Number.isInteger(value) || value <= 0) {
      throw new RangeError(`griffinLim: tables.${name} must be a positive integer, got ${value} (vocoder.json)`);
    }
  }
  if (win > nFft) throw new RangeError(`griffinLim: tables.win (${win}) must not exceed tables.nFft (${nFft})`);
  const bins = nFft / 2 + 1;
  if (!(melPinv instanceof Float32Array) || melPinv.length !== bins * nMel) {
    throw new RangeError(`griffinLim: tables.melPinv must be a Float32Array of ${bins} x ${nMel} = ${bins * nMel} ` +
                         `values ([nFft/2+1][nMel]), got ${melPinv?.length} (mel_pinv.f32 does not fit vocoder.json or the mel)`);
  }
}

/**
 * Griffin-Lim vocoder, as glow_tts.audio.griffin_lim.
 *
 * @param {Float32Array} mel   log-mel, row-major [nMel][nFrames] (the decoder's [1, n_mel, t_y] flattened)
 * @param {number} nMel        mel channels (80)
 * @param {number} nFrames     frames F (one per `hop` samples)
 * @param {object} tables      { melPinv: Float32Array [nFft/2+1][nMel], sampleRate, nFft, hop, win,
 *                               and optionally nIter, momentum, power } (loadVocoderTables)
 * @param {object} options     { nIter = tables.nIter ?? 32, momentum = tables.momentum ?? 0.99, seed = 0,
 *                               startPhase: Float32Array [nFft/2+1][nFrames] of angles in radians
 *                               (replaces the seeded random start; for tests) }
 * @returns {Float32Array} the waveform, (nFrames - 1) * hop samples (amplitude follows the mel)
 */
export function griffinLim(mel, nMel, nFrames, tables, options = {}) {
  if (!Number.isInteger(nMel) || nMel <= 0 || !Number.isInteger(nFrames) || nFrames <= 0) {
    throw new RangeError(`griffinLim: nMel and nFrames must be positive integers, got ${nMel} and ${nFrames}`);
  }
  if (!mel || mel.length !== nMel * nFrames) {
    throw new RangeError(`griffinLim: mel has ${mel?.length} values, expected nMel x nFrames = ${nMel} x ${nFrames}`);
  }
  checkTables(tables, nMel);
  const { melPinv, nFft, hop, win } = tables;
  const nIter = options.nIter ?? tables.nIter ?? 32;
  const momentum = options.momentum ?? tables.momentum ?? 0.99;
  const power = tables.power ?? 1;
  const seed = options.seed ?? 0;
  if (!Number.isInteger(nIter) || nIter < 0) throw new RangeError(`griffinLim: nIter must be an integer >= 0, got ${nIter}`);
  if (!Number.isFinite(momentum) || momentum < 0) throw new RangeError(`griffinLim: momentum must be >= 0, got ${momentum}`);
  const bins = nFft / 2 + 1;
  const half = nFft / 2;
  const length = (nFrames - 1) * hop; // samples out: the shortest waveform whose mel has nFrames frames
  if (length <= half) {
    // The STFT pads by reflecting n_fft/2 samples, which needs more samples than that
    // (torch.stft raises here too).
    throw new RangeError(`griffinLim: the mel has ${nFrames} frames, too short for the STFT; it needs ` +
                         `more than ${Math.floor(half / hop) + 1} frames ((nFrames - 1) * hop > nFft / 2)`);
  }

  // 1. Target magnitude, frame-major [F][bins] so each frame's bins are contiguous.
  const magnitude = new Float64Array(nFrames * bins);
  const expMel = new Float64Array(nMel);
  for (let t = 0; t < nFrames; t++) {
    for (let c = 0; c < nMel; c++) {
      const v = mel[c * nFrames + t];
      if (!Number.isFinite(v)) throw new RangeError(`griffinLim: the mel is not finite at channel ${c}, frame ${t} (${v})`);
      expMel[c] = Math.exp(v);
    }
    for (let k = 0; k < bins; k++) {
      let sum = 0;
      for (let c = 0, row = k * nMel; c < nMel; c++) sum += melPinv[row + c] * expMel[c];
      // The pseudo-inverse can go negative between filters; a magnitude cannot.
      magnitude[t * bins + k] = sum > 0 ? (power === 1 ? sum : sum ** power) : 0;
    }
  }

  // 2. Start phase as unit complex numbers [F][bins].
  const angRe = new Float64Array(nFrames * bins);
  const angIm = new Float64Array(nFrames * bins);
  if (options.startPhase !== undefined) {
    const phase = options.startPhase;
    if (phase.length !== bins * nFrames) {
      throw new RangeError(`griffinLim: options.startPhase has ${phase.length} values, expected [nFft/2+1][nFrames] = ${bins * nFrames}`);
    }
    for (let k = 0; k < bins; k++) {
      for (let t = 0; t < nFrames; t++) {
        const a = phase[k * nFrames + t];
        angRe[t * bins + k] = Math.cos(a);
        angIm[t * bins + k] = Math.sin(a);
      }
    }
  } else {
    const random = uniformRandom(seed);
    for (let k = 0; k < bins; k++) {
      for (let t = 0; t < nFrames; t++) {
        const a = 2 * Math.PI * random();
        angRe[t * bins + k] = Math.cos(a);
        angIm[t * bins + k] = Math.sin(a);
      }
    }
  }

  const fft = new RealFFT(nFft);
  const window = hannWindow(win, nFft);
  // `signal` holds the centre-padded waveform: n_fft/2 reflected samples, the `length`
  // samples, n_fft/2 reflected samples (nFft + (F-1) * hop in all). The inverse STFT
  // overlap-adds its frames into it at the same offsets the STFT reads them from.
  const padded = nFft + (nFrames - 1) * hop;
  const signal = new Float64Array(padded);
  // istft's normaliser: 1 / (sum over frames of window^2) at each sample. It is never 0
  // inside the kept part for a Hann window with hop <= win/2 (torch checks the same "NOLA").
  const invEnvelope = new Float64Array(padded);
  for (let t = 0; t < nFrames; t++) {
    for (let i = 0; i < nFft; i++) invEnvelope[t * hop + i] += window[i] * window[i];
  }
  for (let i = half; i < half + length; i++) {
    if (invEnvelope[i] < 1e-11) {
      throw new RangeError(`griffinLim: the window overlap-adds to 0 at sample ${i - half} (hop ${hop} too large for win ${win})`);
    }
    invEnvelope[i] = 1 / invEnvelope[i];
  }
  const specRe = new Float64Array(bins); // one frame's spectrum
  const specIm = new Float64Array(bins);

  /** Inverse STFT of magnitude * angles into `signal`, then re-pad its ends by reflection. */
  function inverseStft() {
    signal.fill(0);
    for (let t = 0; t < nFrames; t++) {
      const base = t * bins;
      for (let k = 0; k < bins; k++) {
        specRe[k] = magnitude[base + k] * angRe[base + k];
        specIm[k] = magnitude[base + k] * angIm[base + k];
      }
      fft.inverse(specRe, specIm, signal, t * hop, window); // windowed, overlap-added
    }
    for (let i = half; i < half + length; i++) signal[i] *= invEnvelope[i];
    // center=True with pad_mode="reflect": sample -j is sample j, sample L-1+j is L-1-j.
    const last = half + length - 1;
    for (let j = 1; j <= half; j++) {
      signal[half - j] = signal[half + j];
      signal[last + j] = signal[last - j];
    }
  }

  // Fast Griffin-Lim (Perraudin et al. 2013), exactly as glow_tts.audio.griffin_lim writes it:
  // accelerated = rebuilt - momentum / (1 + momentum) * previous rebuilt; angle = its phase.
  const prevRe = new Float64Array(nFrames * bins); // the previous iteration's STFT, starts at 0
  const prevIm = new Float64Array(nFrames * bins);
  const alpha = momentum / (1 + momentum);
  for (let iter = 0; iter < nIter; iter++) {
    inverseStft();
    for (let t = 0; t < nFrames; t++) {
      fft.forward(signal, specRe, specIm, t * hop, window); // frame t, windowed
      const base = t * bins;
      for (let k = 0; k < bins; k++) {
        const re = specRe[k], im = specIm[k];
        const ar = re - alpha * prevRe[base + k];
        const ai = im - alpha * prevIm[base + k];
        prevRe[base + k] = re;
        prevIm[base + k] = im;
        // Python divides by clamp(|a|, 1e-16): a zero bin keeps angle 0 instead of NaN.
        const inv = 1 / Math.max(Math.sqrt(ar * ar + ai * ai), 1e-16);
        angRe[base + k] = ar * inv;
        angIm[base + k] = ai * inv;
      }
    }
  }
  inverseStft();
  return Float32Array.from(signal.subarray(half, half + length));
}

/**
 * The page's vocoder: griffinLim, then glow_tts.inference.mel_to_wav's peak scaling. A
 * waveform whose peak is above tables.wavPeak (WAV_PEAK = 32767/32768, the loudest int16
 * sample) is scaled down as a whole to that peak (scaling keeps its shape; clipping would
 * distort every loud stretch). A waveform in range is returned unchanged.
 * @returns {Float32Array} (nFrames - 1) * hop samples, peak <= tables.wavPeak
 */
export function melToWav(mel, nMel, nFrames, tables, options = {}) {
  const wavPeak = tables?.wavPeak;
  if (!(typeof wavPeak === "number" && wavPeak > 0)) {
    throw new RangeError(`melToWav: tables.wavPeak must be a positive number (vocoder.json's wavPeak), got ${wavPeak}`);
  }
  const wav = griffinLim(mel, nMel, nFrames, tables, options);
  let peak = 0;
  for (let i = 0; i < wav.length; i++) peak = Math.max(peak, Math.abs(wav[i]));
  if (peak > wavPeak) {
    const scale = wavPeak / peak;
    for (let i = 0; i < wav.length; i++) wav[i] *= scale;
  }
  return wav;
}

// --------------------------------------------------------------------------------------
// WAV file
// --------------------------------------------------------------------------------------

/** Round half to even (numpy.round), so a sample exactly between two int16 steps lands as Python's does. */
function roundHalfEven(x) {
  const r = Math.round(x); // rounds halves up
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * A 16-bit PCM mono WAV file, byte for byte what glow_tts.audio.save_wav writes: each sample
 * (as float32) times 32768, rounded half to even, clipped to [-32768, 32767]
 * (float_to_int16); a 44-byte RIFF header (fmt chunk of 16 bytes, then data).
 * @param {Float32Array|number[]} samples  nominally in [-1, 1]
 * @param {number} sampleRate  Hz (22050)
 * @returns {ArrayBuffer}
 */
export function encodeWav(samples, sampleRate) {
  if (!Number.isInteger(sampleRate) || sampleRate <= 0) {
    throw new RangeError(`encodeWav: sampleRate must be a positive integer, got ${sampleRate}`);
  }
  const n = samples.length;
  const buffer = new ArrayBuffer(44 + 2 * n);
  const view = new DataView(buffer);
  const ascii = (offset, text) => { for (let i = 0; i < text.length; i++) view.setUint8(offset + i, text.charCodeAt(i)); };
  ascii(0, "RIFF");
  view.setUint32(4, 36 + 2 * n, true); // bytes after this field
  ascii(8, "WAVE");
  ascii(12, "fmt ");
  view.setUint32(16, 16, true);          // fmt chunk size
  view.setUint16(20, 1, true);           // format 1: integer PCM
  view.setUint16(22, 1, true);           // channels
  view.setUint32(24, sampleRate, true);
  view.setUint32(28, sampleRate * 2, true); // bytes per second
  view.setUint16(32, 2, true);           // bytes per frame
  view.setUint16(34, 16, true);          // bits per sample
  ascii(36, "data");
  view.setUint32(40, 2 * n, true);
  for (let i = 0; i < n; i++) {
    const x = Math.fround(samples[i]); // save_wav converts to float32 first
    if (!Number.isFinite(x)) throw new RangeError(`encodeWav: sample ${i} is not finite (${samples[i]})`);
    view.setInt16(44 + 2 * i, Math.min(32767, Math.max(-32768, roundHalfEven(x * 32768))), true);
  }
  return buffer;
}

// --------------------------------------------------------------------------------------
// Tables
// --------------------------------------------------------------------------------------

/**
 * Tables from the two exported files' contents.
 * @param {object} config        vocoder.json, parsed
 * @param {ArrayBuffer} pinvBytes  mel_pinv.f32: little-endian float32 [nFft/2+1][nMel]
 * @returns {object} config plus melPinv (Float32Array), as griffinLim and melToWav take it
 */
export function makeVocoderTables(config, pinvBytes) {
  const { nFft, nMel } = config;
  const count = (nFft / 2 + 1) * nMel;
  if (!Number.isInteger(count) || pinvBytes.byteLength !== 4 * count) {
    throw new RangeError(`vocoder tables: mel_pinv.f32 has ${pinvBytes.byteLength} bytes, but vocoder.json ` +
                         `(nFft ${nFft}, nMel ${nMel}) needs ${4 * count}; re-export both with tools/export_web_tables.py`);
  }
  const view = new DataView(pinvBytes);
  const melPinv = new Float32Array(count);
  for (let i = 0; i < count; i++) melPinv[i] = view.getFloat32(4 * i, true); // little-endian on any machine
  return { ...config, melPinv };
}

/**
 * Fetch vocoder.json and mel_pinv.f32 from the folder at `baseUrl` (relative to the page or
 * absolute; with or without the trailing slash).
 * @returns {Promise<object>} the tables griffinLim and melToWav take
 */
export async function loadVocoderTables(baseUrl) {
  const base = new URL(String(baseUrl).endsWith("/") ? baseUrl : `${baseUrl}/`, globalThis.location?.href);
  const get = async (name) => {
    const url = new URL(name, base);
    const response = await fetch(url);
    if (!response.ok) throw new Error(`vocoder tables: ${url} answered ${response.status} ${response.statusText}`);
    return response;
  };
  const [config, pinv] = await Promise.all([
    get("vocoder.json").then((r) => r.json()),
    get("mel_pinv.f32").then((r) => r.arrayBuffer()),
  ]);
  return makeVocoderTables(config, pinv);
}
