// ferry web UI: local times, the hooks toggle, live updates. Loaded with
// `defer` from /assets; no inline script anywhere, so the pages work under
// `script-src 'self'`. Every page works without it.
(function () {
  'use strict';

  function relative(d) {
    var s = Math.round((Date.now() - d.getTime()) / 1000);
    var future = s < 0;
    s = Math.abs(s);
    var text = s < 60 ? s + 's' : s < 3600 ? Math.round(s / 60) + 'm' :
      s < 86400 ? Math.round(s / 3600) + 'h' : Math.round(s / 86400) + 'd';
    return future ? 'in ' + text : text + ' ago';
  }

  // Times in the viewer's time zone: `<time>` with a relative hint (a
  // `.rel` one keeps its offset and gets the local time as its title),
  // and the flow graph's start times.
  function localTimes(root) {
    root.querySelectorAll('time[datetime]').forEach(function (t) {
      var d = new Date(t.getAttribute('datetime'));
      if (isNaN(d.getTime())) { return; }
      if (t.classList.contains('rel')) { t.title = d.toLocaleString(); return; }
      if (t.classList.contains('ago')) { t.title = d.toLocaleString(); t.textContent = relative(d); return; }
      t.title = t.textContent;
      t.textContent = d.toLocaleString() + ' (' + relative(d) + ')';
    });
    root.querySelectorAll('[data-at]').forEach(function (t) {
      var d = new Date(t.getAttribute('data-at'));
      if (!isNaN(d.getTime())) { t.textContent = d.toLocaleTimeString(); }
    });
  }

  // Hooks are hidden until asked for; the choice survives live updates.
  var hooksShown = false;
  function applyHooks(root) {
    document.body.classList.toggle('hooks-hidden', !hooksShown);
    root.querySelectorAll('.toggle-hooks').forEach(function (b) {
      b.hidden = false;
      b.setAttribute('aria-pressed', hooksShown ? 'true' : 'false');
      b.textContent = hooksShown ? 'Hide hooks' : 'Show hooks';
    });
  }
  // Panels the reader opened or closed (by id) stay so across updates.
  var chosen = {};
  document.addEventListener('click', function (e) {
    var t = e.target.closest ? e.target : null;
    var b = t && t.closest('.toggle-hooks');
    if (b) { hooksShown = !hooksShown; applyHooks(document); return; }
    var s = t && t.closest('summary');
    var d = s && s.parentElement;
    if (d && d.id) { chosen[d.id] = !d.open; }
  });
  // A link to something inside a closed panel opens the panel.
  function reveal() {
    var id = decodeURIComponent(location.hash.slice(1));
    var el = id && document.getElementById(id);
    for (var p = el; p; p = p.parentElement) {
      if (p.tagName === 'DETAILS' && !p.open) { p.open = true; }
    }
  }
  window.addEventListener('hashchange', reveal);

  localTimes(document);
  applyHooks(document);
  reveal();

  // Live: an event stream says something changed; the part of the page
  // that shows it is fetched again and swapped in, keeping the scroll
  // position and the reader's open panels.
  function live(box, events, fetchUrl, extract, done) {
    if (!window.EventSource) { return; }
    var source = new EventSource(events);
    var pending = null, inflight = false, again = false;
    function refresh() {
      pending = null;
      if (inflight) { again = true; return; }
      inflight = true;
      fetch(fetchUrl(), { credentials: 'same-origin', headers: { 'Accept': 'text/html' } })
        .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
        .then(function (html) {
          var x = window.scrollX, y = window.scrollY;
          box.innerHTML = extract(html);
          box.querySelectorAll('details[id]').forEach(function (d) {
            if (Object.prototype.hasOwnProperty.call(chosen, d.id)) { d.open = chosen[d.id]; }
          });
          localTimes(box);
          applyHooks(box);
          window.scrollTo(x, y);
          if (done && done(box)) { source.close(); }
        })
        .catch(function () { /* the next event tries again */ })
        .then(function () {
          inflight = false;
          if (again) { again = false; schedule(); }
        });
    }
    function schedule() {
      if (pending === null) { pending = setTimeout(refresh, 100); }
    }
    source.onmessage = schedule;
    // Told `lagged` (it fell behind and events were dropped), or back
    // after a dropped connection (the list stream does not replay): the
    // state is read again, so the page never shows what is no longer true.
    source.addEventListener('lagged', schedule);
    var opened = false;
    source.onopen = function () { if (opened) { schedule(); } opened = true; };
  }

  // The release view: its own stream, its body swapped.
  var box = document.getElementById('release');
  if (box && box.dataset.events) {
    var body = box.querySelector('.release-body');
    var announce = document.getElementById('live-status');
    live(box, box.dataset.events + '?after=' + encodeURIComponent(body ? body.dataset.seq : '0'),
      function () { return box.dataset.body; },
      function (html) { return html; },
      function (b) {
        var nb = b.querySelector('.release-body');
        if (nb && announce) { announce.textContent = 'Release status: ' + nb.dataset.status; }
        return nb && nb.dataset.final === 'true';
      });
  }
  // Lists and dashboards: every release's stream; the page fetched again
  // and its live part swapped.
  var part = document.querySelector('[data-live]');
  if (part && part.id) {
    live(part, part.dataset.live, function () { return location.href; }, function (html) {
      var doc = new DOMParser().parseFromString(html, 'text/html');
      var fresh = doc.getElementById(part.id);
      return fresh ? fresh.innerHTML : part.innerHTML;
    });
  }
}());
