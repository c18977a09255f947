// The console's live view: Server-Sent Events into one block per session.
// Text is only ever set with textContent: transcripts hold what strangers typed.
"use strict";
(function () {
  const live = document.getElementById("live");
  if (!live) { return; }
  const status = document.getElementById("live-status");
  const MAX_SESSIONS = 100;
  const MAX_LINES = 2000;
  const filter = {
    user: document.getElementById("f-user"),
    address: document.getElementById("f-address"),
    protocol: document.getElementById("f-protocol"),
  };
  const sessions = new Map();

  function text(tag, value, cls) {
    const node = document.createElement(tag);
    node.textContent = value;
    if (cls) { node.className = cls; }
    return node;
  }

  function stamp(seconds) {
    const d = new Date(seconds * 1000);
    const pad = (n, w) => String(n).padStart(w || 2, "0");
    return pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds()) +
      "." + pad(d.getMilliseconds(), 3);
  }

  function matches(s) {
    const user = filter.user.value.trim().toLowerCase();
    const address = filter.address.value.trim();
    const protocol = filter.protocol.value;
    if (user && (s.user || "").toLowerCase() !== user) { return false; }
    if (address && !(s.peer || "").startsWith(address)) { return false; }
    return !protocol || s.protocol === protocol;
  }

  function refresh(s) {
    s.who.textContent = s.user ? "account " + s.user : "not logged in";
    s.node.hidden = !matches(s);
  }

  function session(data) {
    let s = sessions.get(data.session);
    if (s) { return s; }
    const node = document.createElement("section");
    node.className = "live-session";
    node.dataset.session = data.session;
    const head = document.createElement("header");
    head.appendChild(text("b", (data.protocol || "?").toUpperCase() + " on " + (data.listener || "?")));
    head.appendChild(text("span", data.peer || "?", "peer"));
    const who = text("span", "", "who");
    head.appendChild(who);
    const state = text("span", data.tls ? "TLS" : "plaintext", "state");
    head.appendChild(state);
    const pre = document.createElement("pre");
    node.appendChild(head);
    node.appendChild(pre);
    live.prepend(node);
    s = { node: node, pre: pre, who: who, state: state, lines: 0, user: data.user || null,
          peer: data.peer || "", protocol: data.protocol || "" };
    sessions.set(data.session, s);
    refresh(s);
    while (sessions.size > MAX_SESSIONS) {
      const [oldest, old] = sessions.entries().next().value;
      old.node.remove();
      sessions.delete(oldest);
    }
    return s;
  }

  function add(s, line, cls) {
    if (s.lines >= MAX_LINES) { return; }
    s.lines += 1;
    s.pre.appendChild(text("div", line, cls));
    s.pre.scrollTop = s.pre.scrollHeight;
  }

  // "Connected now": rows added and removed as sessions open and close.
  const connected = document.querySelector("#connected tbody");
  const connectedCount = document.getElementById("connected-count");

  function connectedRow(d) {
    if (!connected) { return null; }
    for (const row of connected.rows) {
      if (row.dataset.session === d.session) { return row; }
    }
    if (!d.peer) { return null; }
    const row = connected.insertRow();
    row.dataset.session = d.session;
    const when = new Date((d.time || d.started) * 1000);
    const pad = (n) => String(n).padStart(2, "0");
    const date = when.getFullYear() + "-" + pad(when.getMonth() + 1) + "-" + pad(when.getDate());
    const cells = [date + " " + stamp(when.getTime() / 1000).slice(0, 8), d.protocol, d.listener,
                   d.peer, d.user || "-", d.tls ? "yes" : "no"];
    for (const value of cells) { row.insertCell().textContent = value; }
    row.cells[4].className = "account";
    const link = document.createElement("a");
    link.href = "/console/sessions/" + encodeURIComponent(d.session);
    link.textContent = "transcript";
    row.insertCell().appendChild(link);
    return row;
  }

  function countConnected() {
    if (connected && connectedCount) { connectedCount.textContent = connected.rows.length; }
  }

  const source = new EventSource(live.dataset.stream);
  source.onopen = () => {
    // (Re)connected: the server starts with every running session, whole; start afresh.
    sessions.forEach((s) => s.node.remove());
    sessions.clear();
    if (connected) { connected.replaceChildren(); }
    status.textContent = "live.";
  };
  source.onerror = () => { status.textContent = "connection lost, retrying..."; };
  source.addEventListener("opened", (e) => {
    const d = JSON.parse(e.data);
    session(d);
    connectedRow(d);
    countConnected();
  });
  source.addEventListener("login", (e) => {
    const d = JSON.parse(e.data);
    const s = session(d);
    s.user = d.user;
    refresh(s);
    const row = connectedRow(d);
    if (row) { row.cells[4].textContent = d.user; }
  });
  source.addEventListener("line", (e) => {
    const d = JSON.parse(e.data);
    const s = session(d);
    const cls = d.direction === "*" ? "line-note" : "line-" + d.direction;
    add(s, stamp(d.time) + " " + d.direction + ": " + d.text, cls);
  });
  source.addEventListener("closed", (e) => {
    const d = JSON.parse(e.data);
    const s = session(d);
    s.user = d.user || s.user;
    s.node.classList.add("ended");
    s.state.textContent = (d.tls ? "TLS, " : "") + "ended after " + d.duration + "s";
    const link = document.createElement("a");
    link.href = "/console/sessions/" + encodeURIComponent(d.session);
    link.textContent = "transcript";
    s.node.querySelector("header").appendChild(link);
    refresh(s);
    const row = connectedRow({session: d.session});
    if (row) { row.remove(); }
    countConnected();
  });
  source.addEventListener("dropped", (e) => {
    status.textContent = "live (" + JSON.parse(e.data).count + " lines skipped: too fast).";
  });
  for (const input of Object.values(filter)) {
    input.addEventListener("input", () => sessions.forEach(refresh));
  }
})();
