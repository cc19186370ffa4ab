// node web/run_frontend.mjs TABLES.json INPUTS.json: for each input {text, cleaners,
// add_blank} print one JSON result {cleaned, ids} or {error: {char, position}} (a JSON
// list on stdout). tests/test_web_frontend.py compares the results with Python's.
import { readFileSync } from "node:fs";
import { makeFrontend, UnknownSymbolError } from "./frontend.mjs";

const [tablesPath, inputsPath] = process.argv.slice(2);
const frontend = makeFrontend(JSON.parse(readFileSync(tablesPath, "utf8")));
const results = JSON.parse(readFileSync(inputsPath, "utf8")).map(({ text, cleaners, add_blank }) => {
  try {
    const ids = frontend.textToSequence(text, cleaners);
    return { cleaned: frontend.cleanText(text, cleaners), ids: add_blank ? frontend.intersperse(ids) : ids };
  } catch (error) {
    if (!(error instanceof UnknownSymbolError)) return { error: { message: String(error) } };
    return { error: { char: error.char, position: error.position } };
  }
});
process.stdout.write(JSON.stringify(results));
