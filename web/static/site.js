// runbook's site: copy buttons, local times, the sidebar toggle, and — when served with
// execution enabled — Run buttons whose output streams in over server-sent events.
// Every text from a runbook or a host is put into the page as text (textContent), never as
// markup; lanes arrive as HTML that the server rendered and escaped.
(function () {
  "use strict";

  var body = document.body;
  var T = body.dataset;
  var root = T.root || "";

  // ---- sidebar ----------------------------------------------------------------------
  var toggle = document.getElementById("menu-toggle");
  var narrow = window.matchMedia("(max-width: 900px)");
  try {
    if (!narrow.matches && localStorage.getItem("runbook-sidebar") === "hidden") {
      body.classList.add("nav-hidden");
    }
  } catch (e) { /* storage may be off (file://) */ }
  if (toggle) {
    toggle.addEventListener("click", function () {
      if (narrow.matches) {
        body.classList.toggle("nav-open");
      } else {
        var hidden = body.classList.toggle("nav-hidden");
        try { localStorage.setItem("runbook-sidebar", hidden ? "hidden" : "shown"); } catch (e) { /* ignore */ }
      }
    });
  }
  document.addEventListener("click", function (ev) {
    if (!narrow.matches || !body.classList.contains("nav-open")) return;
    var side = document.getElementById("sidebar");
    if (side && !side.contains(ev.target) && ev.target !== toggle && !toggle.contains(ev.target)) {
      body.classList.remove("nav-open");
    }
  });

  // ---- copy buttons -------------------------------------------------------------------
  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    return new Promise(function (resolve, reject) {
      var ta = document.createElement("textarea");
      ta.value = text;
      ta.setAttribute("readonly", "");
      ta.style.position = "fixed";
      ta.style.opacity = "0";
      document.body.appendChild(ta);
      ta.select();
      try { document.execCommand("copy") ? resolve() : reject(); } catch (e) { reject(e); }
      document.body.removeChild(ta);
    });
  }
  document.addEventListener("click", function (ev) {
    var btn = ev.target.closest && ev.target.closest("button.copy");
    if (!btn) return;
    var label = btn.textContent;
    copyText(btn.dataset.copy || "").then(function () {
      btn.textContent = T.tCopied;
      btn.classList.add("done");
      setTimeout(function () { btn.textContent = label; btn.classList.remove("done"); }, 1500);
    }, function () { /* nothing to say: the text is selectable */ });
  });

  // ---- times: "5 min ago", local time in the tooltip --------------------------------------
  function ago(date) {
    var s = (Date.now() - date.getTime()) / 1000;
    if (s < 60) return T.tNow;
    if (s < 3600) return T.tMin.replace("{n}", Math.floor(s / 60));
    if (s < 86400) return T.tHour.replace("{n}", Math.floor(s / 3600));
    if (s < 86400 * 14) return T.tDay.replace("{n}", Math.floor(s / 86400));
    return date.toLocaleDateString(T.lang || undefined);
  }
  function localTimes(scope) {
    var times = (scope || document).querySelectorAll("time[datetime]");
    for (var i = 0; i < times.length; i++) {
      var d = new Date(times[i].getAttribute("datetime"));
      if (isNaN(d.getTime())) continue;
      times[i].textContent = ago(d);
      times[i].title = d.toLocaleString(T.lang || undefined);
    }
  }
  localTimes(document);
  setInterval(function () { localTimes(document); }, 60000);

  // ---- live runs ------------------------------------------------------------------------
  if (T.mode !== "serve" || T.exec !== "1" || T.auth !== "1" || !T.runbook) return;

  var state = document.getElementById("run-state");
  var stopBtn = document.getElementById("stop");
  var runbar = document.getElementById("runbar");
  var running = false;

  function say(text, kind) {
    if (!state) return;
    state.textContent = text || "";
    state.className = "run-state" + (kind ? " " + kind : "");
  }

  function setRunning(on) {
    running = on;
    body.classList.toggle("is-running", on);
    var buttons = document.querySelectorAll("button[data-run]");
    for (var i = 0; i < buttons.length; i++) buttons[i].disabled = on;
    if (stopBtn) stopBtn.disabled = !on;
  }

  function post(path, data) {
    return fetch(root + path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      credentials: "same-origin",
      body: JSON.stringify(data)
    }).then(function (res) {
      if (res.ok) return res.status === 204 ? null : res.json();
      return res.json().then(function (j) { throw new Error(j.error || res.statusText); },
        function () { throw new Error(res.status + " " + res.statusText); });
    });
  }

  function stepEl(id) {
    return document.querySelector('section.step[data-step="' + CSS.escape(id) + '"]');
  }

  function laneEl(step, host) {
    var sec = stepEl(step);
    if (!sec) return null;
    var lane = sec.querySelector('.lane[data-host="' + CSS.escape(host) + '"]');
    if (!lane) {
      var lanes = sec.querySelector(".lanes");
      if (!lanes) return null;
      lane = document.createElement("div");
      lane.className = "lane";
      lane.dataset.step = step;
      lane.dataset.host = host;
      lanes.appendChild(lane);
    }
    return lane;
  }

  // A lane in a transient state (queued, running, stopped): badge, host, live output.
  function transient(lane, status, label) {
    var keep = lane.querySelector("pre.live");
    lane.className = "lane st-" + status;
    lane.textContent = "";
    var head = document.createElement("div");
    head.className = "lane-head";
    var badge = document.createElement("span");
    badge.className = "badge st-" + status;
    badge.textContent = label;
    var host = document.createElement("span");
    host.className = "host";
    host.textContent = lane.dataset.host;
    head.appendChild(badge);
    head.appendChild(host);
    lane.appendChild(head);
    if (status === "running" || (keep && keep.textContent)) {
      var pre = document.createElement("pre");
      pre.className = "live";
      if (keep && status !== "running") pre.textContent = keep.textContent;
      lane.appendChild(pre);
    }
  }

  function onMessage(msg) {
    var lane;
    switch (msg.t) {
      case "begin":
        setRunning(true);
        say(T.tRunning + "…", "busy");
        (msg.steps || []).forEach(function (s) {
          s.hosts.forEach(function (h) {
            var l = laneEl(s.step, h);
            if (l) transient(l, "queued", T.tQueued);
          });
        });
        break;
      case "start":
        lane = laneEl(msg.step, msg.host);
        if (lane) {
          transient(lane, "running", T.tRunning);
          var sec = stepEl(msg.step);
          if (sec && !sec.dataset.seen) {
            sec.dataset.seen = "1";
            var r = sec.getBoundingClientRect();
            if (r.top > window.innerHeight || r.bottom < 0) sec.scrollIntoView({ block: "center", behavior: "smooth" });
          }
        }
        break;
      case "out":
        lane = laneEl(msg.step, msg.host);
        if (lane) {
          var pre = lane.querySelector("pre.live");
          if (!pre) { transient(lane, "running", T.tRunning); pre = lane.querySelector("pre.live"); }
          var atBottom = pre.scrollHeight - pre.scrollTop - pre.clientHeight < 8;
          pre.appendChild(document.createTextNode(msg.text));
          if (atBottom) pre.scrollTop = pre.scrollHeight;
        }
        break;
      case "done":
        lane = laneEl(msg.step, msg.host);
        if (lane) {
          var html = msg.html[T.lang] || msg.html[Object.keys(msg.html)[0]] || "";
          var tpl = document.createElement("template");
          tpl.innerHTML = html;
          var fresh = tpl.content.firstElementChild;
          if (fresh) { lane.replaceWith(fresh); localTimes(fresh); }
        }
        break;
      case "end":
        setRunning(false);
        var left = document.querySelectorAll(".lane.st-running, .lane.st-queued");
        for (var i = 0; i < left.length; i++) transient(left[i], "stopped", T.tStopped);
        say(msg.cancelled ? T.tStopped : "", msg.cancelled ? "warn" : "");
        document.querySelectorAll("section.step").forEach(function (s) { delete s.dataset.seen; });
        break;
      case "lagged":
        say(T.tLost, "warn");
        break;
    }
  }

  var source = new EventSource(root + "api/events?runbook=" + encodeURIComponent(T.runbook));
  source.onmessage = function (ev) {
    var msg;
    try { msg = JSON.parse(ev.data); } catch (e) { return; }
    onMessage(msg);
  };
  source.onerror = function () {
    if (source.readyState === EventSource.CLOSED) say(T.tLost, "warn");
  };
  source.onopen = function () {
    if (state && state.classList.contains("warn") && !running) say("");
  };

  function vars() {
    var out = { vars: {}, secrets: {} };
    if (!runbar) return out;
    var inputs = runbar.querySelectorAll("fieldset.vars input");
    for (var i = 0; i < inputs.length; i++) {
      var inp = inputs[i];
      if (!inp.value) continue;
      (inp.dataset.secret ? out.secrets : out.vars)[inp.name] = inp.value;
    }
    return out;
  }

  function start(mode, step) {
    if (running) return;
    var v = vars();
    say(T.tRunning + "…", "busy");
    post("api/run", { runbook: T.runbook, mode: mode, step: step || null, vars: v.vars, secrets: v.secrets })
      .catch(function (err) { say(err.message, "error"); setRunning(false); });
  }

  document.addEventListener("click", function (ev) {
    var btn = ev.target.closest && ev.target.closest("button[data-run]");
    if (!btn || btn.dataset.run === "all") return;
    var sec = btn.closest("section.step");
    if (sec) start(btn.dataset.run, sec.dataset.step);
  });
  if (runbar) {
    runbar.addEventListener("submit", function (ev) { ev.preventDefault(); start("all"); });
  }
  if (stopBtn) {
    stopBtn.addEventListener("click", function () {
      post("api/cancel", { runbook: T.runbook }).catch(function (err) { say(err.message, "error"); });
    });
  }

  document.addEventListener("change", function (ev) {
    var box = ev.target;
    if (!box.matches || !box.matches('.checks input[type="checkbox"]')) return;
    var sec = box.closest("section.step");
    var want = box.checked;
    post("api/manual", { runbook: T.runbook, step: sec.dataset.step, host: box.dataset.host, checked: want })
      .catch(function (err) { box.checked = !want; say(err.message, "error"); });
  });
})();
