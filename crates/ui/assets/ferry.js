// ferry web UI: local times, the hooks toggle, live release updates.
// Loaded with `defer` from /assets; no inline script anywhere, so the
// pages work under `script-src 'self'`. Every page works without it.
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

  // Times: shown in the viewer's time zone, with a relative hint.
  function localTimes(root) {
    root.querySelectorAll('time[datetime]').forEach(function (t) {
      var d = new Date(t.getAttribute('datetime'));
      if (isNaN(d.getTime())) { return; }
      t.title = t.textContent;
      t.textContent = d.toLocaleString() + ' (' + relative(d) + ')';
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
  document.addEventListener('click', function (e) {
    var b = e.target.closest && e.target.closest('.toggle-hooks');
    if (!b) { return; }
    hooksShown = !hooksShown;
    applyHooks(document);
  });

  localTimes(document);
  applyHooks(document);

  // Live: the release's event stream says something changed; the body
  // is fetched again and swapped in, keeping the scroll position.
  var box = document.getElementById('release');
  if (!box || !box.dataset.events || !window.EventSource) { return; }
  var body = box.querySelector('.release-body');
  var after = body ? body.dataset.seq : '0';
  var source = new EventSource(box.dataset.events + '?after=' + encodeURIComponent(after));
  var pending = null;
  var inflight = false;
  var again = false;
  var announce = document.getElementById('live-status');

  function refresh() {
    pending = null;
    if (inflight) { again = true; return; }
    inflight = true;
    fetch(box.dataset.body, { credentials: 'same-origin', headers: { 'Accept': 'text/html' } })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) {
        var x = window.scrollX, y = window.scrollY;
        // Panels the reader opened or closed stay that way.
        var open = {};
        box.querySelectorAll('details[id]').forEach(function (d) { open[d.id] = d.open; });
        box.innerHTML = html;
        box.querySelectorAll('details[id]').forEach(function (d) {
          if (Object.prototype.hasOwnProperty.call(open, d.id)) { d.open = open[d.id]; }
        });
        localTimes(box);
        applyHooks(box);
        window.scrollTo(x, y);
        var nb = box.querySelector('.release-body');
        if (nb && announce) { announce.textContent = 'Release status: ' + nb.dataset.status; }
        if (nb && nb.dataset.final === 'true') { source.close(); }
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
}());
