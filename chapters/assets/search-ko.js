// Search that finds Korean as well as English.
//
// mdBook's search index (elasticlunr, built in Rust) drops Hangul, so a query such as
// "정렬" finds nothing. We keep mdBook's search *interface* (the search box, keyboard
// shortcuts, result list, teasers, highlighting) and replace only its *engine*:
//
//   * tools/search_index.py reads the built HTML pages after `mdbook build`, splits them
//     into sections (title, heading, text) and appends them to mdBook's searchindex*.js
//     as `window.search.glow = {docs: [...]}`, so both load together in one request.
//   * mdBook's searcher.js calls `elasticlunr.Index.load(...)` once the index script has
//     loaded. We wrap that function: it returns our engine instead, whose `search(term)`
//     returns results in the shape searcher.js renders ({ref, score, doc}).
//
// Matching: every whitespace-separated query term must occur as a substring (Unicode NFC,
// lower case) of the section's title or text; Korean particles glued to a word ("정렬은")
// therefore still match "정렬". If nothing matches, a fallback scores sections by the
// share of the query's character bigrams they contain.
(function () {
  'use strict';
  if (typeof window.elasticlunr === 'undefined' || !window.elasticlunr.Index) {
    return; // search disabled on this page (e.g. print.html)
  }

  function normalize(text) {
    return (text || '').normalize('NFC').toLowerCase();
  }

  function countOccurrences(haystack, needle) {
    if (!needle) {
      return 0;
    }
    let count = 0;
    let at = haystack.indexOf(needle);
    while (at !== -1) {
      count += 1;
      at = haystack.indexOf(needle, at + needle.length);
    }
    return count;
  }

  function bigrams(text) {
    const grams = new Set();
    const compact = text.replace(/\s+/g, '');
    for (let i = 0; i + 1 < compact.length; i++) {
      grams.add(compact.slice(i, i + 2));
    }
    return grams;
  }

  function makeEngine(glow) {
    const docs = glow.docs.map(function (doc) {
      return {
        doc: doc,
        title: normalize(doc.title),
        body: normalize(doc.body),
      };
    });

    function substringSearch(terms) {
      const results = [];
      docs.forEach(function (entry, ref) {
        let score = 0;
        for (const term of terms) {
          const inTitle = countOccurrences(entry.title, term);
          const inBody = countOccurrences(entry.body, term);
          if (inTitle + inBody === 0) {
            return; // every term must occur (AND)
          }
          score += 10 * inTitle + Math.min(inBody, 20);
        }
        results.push({ref: ref, score: score, doc: entry.doc});
      });
      return results;
    }

    function bigramSearch(query) {
      const wanted = bigrams(query);
      if (wanted.size === 0) {
        return [];
      }
      const results = [];
      docs.forEach(function (entry, ref) {
        const text = entry.title + ' ' + entry.body;
        let hits = 0;
        wanted.forEach(function (gram) {
          if (text.indexOf(gram) !== -1) {
            hits += 1;
          }
        });
        const share = hits / wanted.size;
        if (share >= 0.6) {
          results.push({ref: ref, score: share, doc: entry.doc});
        }
      });
      return results;
    }

    return {
      search: function (searchterm) {
        const query = normalize(searchterm).trim();
        const terms = query.split(/\s+/).filter(function (t) {
          return t.length > 0;
        });
        if (terms.length === 0) {
          return [];
        }
        let results = substringSearch(terms);
        if (results.length === 0) {
          results = bigramSearch(query);
        }
        results.sort(function (a, b) {
          return b.score - a.score || a.ref - b.ref;
        });
        return results;
      },
    };
  }

  // mdBook searches on `keyup`. Text that arrives without key events (an IME committing
  // Hangul, paste, autofill) only fires `input`: turn that into the keyup mdBook expects.
  const searchbar = document.getElementById('mdbook-searchbar');
  if (searchbar) {
    searchbar.addEventListener('input', function (event) {
      if (!event.isComposing) {
        searchbar.dispatchEvent(new KeyboardEvent('keyup', {bubbles: true}));
      }
    });
    searchbar.addEventListener('compositionend', function () {
      searchbar.dispatchEvent(new KeyboardEvent('keyup', {bubbles: true}));
    });
  }

  const originalLoad = window.elasticlunr.Index.load;
  window.elasticlunr.Index.load = function (serialized) {
    const glow = window.search && window.search.glow;
    if (!glow || !Array.isArray(glow.docs)) {
      // The index was not post-processed (plain `mdbook build`): fall back to mdBook's.
      return originalLoad.call(this, serialized);
    }
    // searcher.js keeps a reference to window.search.doc_urls; refill it in place so
    // that result `ref`s index our sections.
    const urls = window.search.doc_urls;
    urls.length = 0;
    glow.docs.forEach(function (doc) {
      urls.push(doc.url);
    });
    return makeEngine(glow);
  };
})();
