// The language switch: a link in the menu bar to the same page in the other edition.
//
// The English book is the site's root and the Korean edition (한국어판) its ko/ folder,
// with the same page names (tools/korean_edition.py builds it; the build fails if a page
// lacks its counterpart). mdBook gives every page `path_to_root` ("", "../", ...), so the
// page's own path is the last (depth + 1) parts of the URL, and the other edition's copy
// is path_to_root + "ko/" + page (English) or path_to_root + "../" + page (Korean). The
// link is relative, so it works from file://, `make serve` or any static server.
(function () {
  'use strict';
  const korean = (document.documentElement.lang || '').toLowerCase().startsWith('ko');
  const root = typeof path_to_root === 'string' ? path_to_root : '';

  function currentPage() {
    // mdBook's 404 page sets a <base> (site-url): link to the other edition's front page.
    if (document.querySelector('base[href]')) {
      return 'index.html';
    }
    const depth = root.split('/').filter(function (part) { return part === '..'; }).length;
    let parts = window.location.pathname.split('/');
    let last = parts.pop();
    if (last === '') {
      last = 'index.html';
    }
    parts = parts.slice(parts.length - depth);
    return parts.concat([last]).map(decodeURIComponent).map(encodeURIComponent).join('/');
  }

  function addSwitch() {
    const bar = document.querySelector('#mdbook-menu-bar .right-buttons')
      || document.querySelector('.right-buttons');
    if (!bar || document.getElementById('glow-lang-switch')) {
      return;
    }
    const link = document.createElement('a');
    link.id = 'glow-lang-switch';
    link.className = 'glow-lang-switch';
    const target = root + (korean ? '../' : 'ko/') + currentPage();
    // the same section too: headings keep their English ids in the Korean edition
    function update() {
      link.href = target + window.location.hash;
    }
    update();
    window.addEventListener('hashchange', update);
    link.hreflang = korean ? 'en' : 'ko';
    link.lang = korean ? 'en' : 'ko';
    link.textContent = korean ? 'English' : '한국어';
    link.title = korean ? 'Read this page in English' : '이 페이지를 한국어로 읽기';
    bar.insertBefore(link, bar.firstChild);
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', addSwitch);
  } else {
    addSwitch();
  }
})();
