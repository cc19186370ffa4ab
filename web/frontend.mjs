// The text frontend of glow_tts.text in JavaScript: text -> cleaned jamo -> symbol ids.
//
// It follows glow_tts/text/cleaners.py and numbers.py step for step (same order, same
// rules); every table it needs (symbols, number words, counters, letter names, the
// compatibility-jamo map, the punctuation sets) comes from the Python package through
// tools/export_web_tables.py, so nothing here is a second copy of a table.
// tests/test_web_frontend.py runs it under Node and compares ids and errors with Python.
//
// Strings are handled by code point (Array.from), as Python indexes them, so positions in
// errors agree for characters outside the Basic Multilingual Plane (emoji) too.

// Python's \s (str.isspace), spelled out: JavaScript's \s is a slightly different set.
const WS = "\\t\\n\\x0b\\x0c\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";

export class UnknownSymbolError extends Error {
  /** A character left after cleaning that has no symbol id (as glow_tts.text.UnknownSymbolError). */
  constructor(char, position, cleaned, text) {
    const code = char.codePointAt(0).toString(16).toUpperCase().padStart(4, "0");
    super(`character '${char}' (U+${code}) at position ${position} of the cleaned text ` +
          `(counted in jamo) has no symbol id; input: '${text}'`);
    this.name = "UnknownSymbolError";
    Object.assign(this, { char, position, cleaned, text });
  }
}

/** Build the frontend from the exported tables (the JSON tools/export_web_tables.py writes). */
export function makeFrontend(T) {
  const re = (source, flags = "gu") => new RegExp(source.replaceAll("\\s", `[${WS}]`), flags);
  const mapChars = (text, table) => Array.from(text, (c) => (c in table ? table[c] : c)).join("");

  // --- numbers (numbers.py) ---------------------------------------------------------------
  const N = T.numbers;
  const MINUS = "(?:(?<![0-9A-Za-z\\uac00-\\ud7a3])-)?";
  const NUMBER = MINUS + "(?<![0-9.])[0-9]+(?:\\.[0-9]+)?";
  const thousandsRe = re("(?<![0-9,])[0-9]{1,3}(?:,[0-9]{3})+(?![0-9])");
  const isoDateRe = re("(?<![0-9.\\-])([0-9]{4})(?:-|/|\\.\\s?)([0-9]{1,2})(?:-|/|\\.\\s?)([0-9]{1,2})(?![0-9])");
  const clockRe = re("(?<![0-9:])([0-9]{1,2}):([0-9]{2})(?![0-9:])");
  const phoneRe = re("(?<![0-9\\-])(?:[0-9]{2,4}-[0-9]{3,4}-[0-9]{4}|(?:0[0-9]{1,3}|1[5-9][0-9]{2})-[0-9]{4})(?![0-9\\-])");
  const hyphenBetweenDigitsRe = re("(?<=[0-9])-(?=[0-9])");
  const rangeRe = re("(?<=[0-9])\\s*~\\s*(?=[0-9])");
  const currencyRe = re("([₩$€¥£])\\s*(" + NUMBER + ")");
  // Python writes the case-insensitive units as (?i:km|...); Node 20 has no inline flags.
  const unitRe = re("(" + NUMBER + ")(\\s*)([kK][mM]|[cC][mM]|[mM][mM]|[kK][gG]|[mM][gG]|[mM][lL]|m|g|l|L|%|°[cC]|℃|°)(?![A-Za-z])");
  const decimalRe = re("(?<![0-9.])(" + MINUS + ")([0-9]+)\\.([0-9]+)(?![0-9])");
  const negativeRe = re("(?<![0-9A-Za-z\\uac00-\\ud7a3])-([0-9]+)(?![0-9])");
  const nativeCounterRe = re("(?<![0-9.제])([0-9]+)(\\s*)(" + N.NATIVE_COUNTERS.join("|") + ")");
  const monthRe = re("(?<![0-9.])([0-9]+)(\\s*)월");
  const leadingOneRe = re("(?<![0-9.])1(?=[십백천만])(?!만큼)");
  const leadingZeroRe = re("(?<![0-9])0[0-9]+");
  const integerRe = re("[0-9]+");

  const readDigits = (digits, zero = "공") =>
    Array.from(digits, (d) => (d === "0" ? zero : N.SINO_DIGITS[Number(d)])).join("");

  function sinoFourDigits(n) {
    let words = "";
    for (const [value, name] of [[1000, "천"], [100, "백"], [10, "십"]]) {
      const digit = Math.floor(n / value);
      n %= value;
      if (digit) words += (digit === 1 ? "" : N.SINO_DIGITS[digit]) + name;
    }
    return n ? words + N.SINO_DIGITS[n] : words;
  }

  function sinoKorean(number) {
    const digits = String(number).replace(/^0+/, "") || "0";
    if (digits.length > N.MAX_SINO_DIGITS) return readDigits(digits, "영");
    let n = BigInt(digits);
    if (n === 0n) return N.SINO_DIGITS[0];
    const groups = [];
    while (n) { groups.push(Number(n % 10000n)); n /= 10000n; }
    let words = "";
    for (let power = groups.length - 1; power >= 0; power--) {
      const group = groups[power];
      if (!group) continue;
      const leadingMan = power === 1 && group === 1 && power === groups.length - 1;
      words += (leadingMan ? "" : sinoFourDigits(group)) + N.GROUP_UNITS[power];
    }
    return words;
  }

  function nativeKorean(n) {  // before a counter
    if (!(n >= 1 && n <= 99)) return sinoKorean(n);
    const tens = Math.floor(n / 10), ones = n % 10;
    if (ones === 0 && tens === 2) return "스무";
    return N.NATIVE_TENS[tens] + N.NATIVE_ONES_BEFORE_COUNTER[ones];
  }

  function readNumber(text) {
    const words = [];
    if (text.startsWith("-")) { words.push("마이너스"); text = text.slice(1); }
    const dot = text.indexOf(".");
    const integer = dot < 0 ? text : text.slice(0, dot);
    const fraction = dot < 0 ? "" : text.slice(dot + 1);
    words.push(sinoKorean(integer));
    if (fraction) words.push("점", readDigits(fraction, "영"));
    return words.join(" ");
  }

  function readNativeCounter(match, digits, space, counter, offset, string) {
    const following = string.slice(offset + match.length, offset + match.length + 1);
    const n = digits.length <= N.MAX_SINO_DIGITS ? Number(digits) : -1;  // exact up to 99
    const sino = (following && (N.SINO_LOOKALIKES[counter] || "").includes(following))
      || (counter === "대" && n >= 10 && n % 10 === 0)
      || !(n >= 1 && n <= 99);
    let number;
    if (sino) number = sinoKorean(digits);
    else if (counter === "번째" && n === 1) number = "첫";
    else number = nativeKorean(n);
    return number + space + counter;
  }

  function normalizeNumbers(text) {
    text = text.replace(thousandsRe, (m) => m.replaceAll(",", ""));
    text = text.replace(isoDateRe, (m, y, mo, d) => {
      const [year, month, day] = [y, mo, d].map((g) => parseInt(g, 10));
      if (!(month >= 1 && month <= 12 && day >= 1 && day <= 31)) return m;
      return `${year}년 ${month}월 ${day}일`;
    });
    text = text.replace(clockRe, (m, h, mi) => {
      const hour = parseInt(h, 10), minute = parseInt(mi, 10);
      if (hour > 24 || minute > 59) return m;
      return `${hour}시` + (minute ? ` ${minute}분` : "");
    });
    text = text.replace(phoneRe, (m) => m.split("-").map((g) => readDigits(g)).join(" "));
    text = text.replace(hyphenBetweenDigitsRe, " ");
    text = text.replace(rangeRe, "에서 ");
    text = text.replace(currencyRe, (m, sign, number) => readNumber(number) + N.CURRENCY_WORDS[sign]);
    text = text.replace(unitRe, (m, number, space, unit) =>
      readNumber(number) + space + N.UNIT_WORDS[unit.toLowerCase()]);
    text = text.replace(decimalRe, (m, minus, integer, fraction) => readNumber(minus + integer + "." + fraction));
    text = text.replace(negativeRe, (m, digits) => readNumber("-" + digits));
    text = text.replace(nativeCounterRe, readNativeCounter);
    text = text.replace(monthRe, (m, digits, space) => {
      const irregular = { "6": "유", "10": "시" }[digits.replace(/^0+/, "")];
      return (irregular || sinoKorean(digits)) + space + "월";
    });
    text = text.replace(leadingOneRe, "");
    text = text.replace(leadingZeroRe, (m) => readDigits(m));
    return text.replace(integerRe, (m) => sinoKorean(m));
  }

  // --- cleaners (cleaners.py) -------------------------------------------------------------
  const C = T.cleaners;
  const whitespaceRe = re("\\s+");
  const collapseWhitespace = (text) => text.replace(whitespaceRe, " ").replace(/^ /, "").replace(/ $/, "");
  const hyphens = { "\u2010": "-", "\u2011": "-", "\u2212": "-" };

  function normalizeUnicode(text) {
    text = text.replace(/[^\u3131-\u318e]+/gu, (m) => m.normalize("NFKC"));
    text = text.replace(/\p{Cf}/gu, "");
    text = text.replace(/[\u00c0-\u024f\u1e00-\u1eff]/gu, (m) => m.normalize("NFKD").replace(/\p{Mn}/gu, ""));
    return mapChars(text, hyphens);
  }

  function spellLatin(text) {
    text = text.replace(/[A-Za-z]+/g, (m) => Array.from(m.toLowerCase(), (c) => C.LETTER_NAMES[c]).join(""));
    return mapChars(text, C.SYMBOL_WORDS);
  }

  function compatJamoToConjoining(text) {
    text = mapChars(text, C.COMPAT_TO_CONJOINING);
    return text.replace(/[\u115f\u1160]/gu, "");
  }

  const punctuationMap = {};
  for (const c of C.QUOTES) punctuationMap[c] = "";
  for (const c of C.AS_SPACE) punctuationMap[c] = " ";
  for (const c of C.AS_COMMA) punctuationMap[c] = ",";
  const spaceBeforeMarkRe = re("(?<!\\s)\\s+(?=[.,?!])");
  const markRunRe = re("[.,?!](?:\\s*[.,?!])+");

  function normalizePunctuation(text) {
    text = mapChars(text, punctuationMap);
    text = text.replace(spaceBeforeMarkRe, "");
    return text.replace(markRunRe, (run) => [..."?!.,"].find((mark) => run.includes(mark)));
  }

  function decomposeHangul(text) {
    return text.replace(/[\uac00-\ud7a3]/gu, (s) => {
      const index = s.codePointAt(0) - 0xac00;
      const leading = Math.floor(index / (21 * 28)), rest = index % (21 * 28);
      const vowel = Math.floor(rest / 28), final = rest % 28;
      return String.fromCodePoint(0x1100 + leading, 0x1161 + vowel) + (final ? String.fromCodePoint(0x11a7 + final) : "");
    });
  }

  function normalizeKorean(text) {
    text = normalizeUnicode(text);
    text = normalizeNumbers(text);
    text = spellLatin(text);
    text = compatJamoToConjoining(text);
    text = normalizePunctuation(text);
    return collapseWhitespace(text);
  }

  const CLEANERS = {
    korean_cleaners: (text) => decomposeHangul(normalizeKorean(text)),
    basic_cleaners: (text) => collapseWhitespace(text.toLowerCase()),
  };

  function cleanText(text, cleanerNames) {
    for (const name of typeof cleanerNames === "string" ? [cleanerNames] : cleanerNames) {
      if (!(name in CLEANERS)) {
        throw new Error(`unknown text cleaner '${name}'; known cleaners: ${Object.keys(CLEANERS).sort().join(", ")}`);
      }
      text = CLEANERS[name](text);
    }
    return text;
  }

  // --- ids (text/__init__.py) -------------------------------------------------------------
  const symbolToId = new Map();
  T.symbols.forEach((s, i) => { if (s !== T.PAD) symbolToId.set(s, i); });
  const BLANK_ID = T.symbols.length;

  function textToSequence(text, cleanerNames) {
    const cleaned = Array.from(cleanText(text, cleanerNames));
    return cleaned.map((char, position) => {
      const id = symbolToId.get(char);
      if (id === undefined) throw new UnknownSymbolError(char, position, cleaned.join(""), text);
      return id;
    });
  }

  /** [a, b] -> [blank, a, blank, b, blank] (commons.intersperse, the add_blank layout). */
  function intersperse(ids, item = BLANK_ID) {
    const out = new Array(ids.length * 2 + 1).fill(item);
    ids.forEach((id, i) => { out[2 * i + 1] = id; });
    return out;
  }

  return { cleanText, normalizeKorean, textToSequence, intersperse, BLANK_ID, UnknownSymbolError };
}
