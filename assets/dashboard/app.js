// The dashboard's script: log-in, the pushed feed, the 3D view and the buttons.
// STOP does not depend on this file: index.html has its own inline script and form.

const $ = (id) => document.getElementById(id);
const TOKEN_KEY = "armature.token";
const TRAIL = 300; // TCP points kept for the trail
let token = sessionStorage.getItem(TOKEN_KEY) || "";
let view = null; // the 3D view, once three.js is loaded
let feed = null; // the AbortController of the running feed

// Latencies (ms) from an arm state to the DOM showing it, for the tests and the bench.
window.armatureLatencies = [];

function headers(extra) {
  const h = Object.assign({}, extra || {});
  if (token) h["Authorization"] = "Bearer " + token;
  return h;
}

async function logIn() {
  $("login-error").textContent = "";
  let r;
  try {
    r = await fetch("/dashboard/session", { headers: headers() });
  } catch (e) {
    $("login-error").textContent = "The server cannot be reached: " + e.message;
    return;
  }
  if (!r.ok) {
    const body = await r.json().catch(() => ({}));
    $("login-error").textContent = "Refused: " + (body.message || r.statusText);
    $("board").hidden = true;
    $("login").hidden = false;
    sessionStorage.removeItem(TOKEN_KEY);
    return;
  }
  const who = await r.json();
  $("who").textContent = who.operator + " (" + who.role + ")";
  $("login").hidden = true;
  $("board").hidden = false;
  startView();
  follow();
}

// Reads the server-sent events through fetch, so the token goes in a header.
async function follow() {
  if (feed) feed.abort();
  feed = new AbortController();
  try {
    const r = await fetch("/dashboard/events", { headers: headers(), signal: feed.signal });
    if (!r.ok || !r.body) throw new Error("the feed answered " + r.status);
    const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += value;
      let cut;
      while ((cut = buf.indexOf("\n\n")) >= 0) {
        const block = buf.slice(0, cut);
        buf = buf.slice(cut + 2);
        let kind = "message";
        let data = "";
        for (const line of block.split("\n")) {
          if (line.startsWith("event:")) kind = line.slice(6).trim();
          else if (line.startsWith("data:")) data += line.slice(5).trim();
        }
        if (!data) continue;
        const msg = JSON.parse(data);
        if (kind === "arm") showArm(msg);
        else if (kind === "lists") showLists(msg);
      }
    }
  } catch (e) {
    if (e.name === "AbortError") return;
    $("view-note").textContent = "The feed stopped (" + e.message + "); reconnecting.";
  }
  setTimeout(follow, 1000);
}

const deg = (rad) => (rad * 180 / Math.PI).toFixed(1);
const mm = (m) => (m * 1000).toFixed(1);

function showArm(a) {
  const body = $("joints").tBodies[0];
  a.positions.forEach((p, i) => {
    let row = body.rows[i];
    if (!row) {
      row = body.insertRow();
      row.insertCell().textContent = "joint " + (i + 1);
      row.insertCell().className = "joint";
      row.insertCell().className = "speed";
    }
    row.cells[1].textContent = deg(p);
    row.cells[1].dataset.rad = p;
    row.cells[2].textContent = deg(a.velocities[i] || 0);
    row.cells[2].dataset.rad = a.velocities[i] || 0;
  });
  if (a.tcp) {
    const t = a.tcp;
    $("tcp").textContent = `x ${mm(t.x)} mm, y ${mm(t.y)} mm, z ${mm(t.z)} mm; ` +
      `rotation ${t.rx.toFixed(3)}, ${t.ry.toFixed(3)}, ${t.rz.toFixed(3)} rad`;
  }
  $("mode").textContent = a.mode || "unknown";
  $("phase").textContent = a.phase;
  $("link").textContent = a.link || "up";
  $("faults").textContent = a.fault || "none";
  window.armatureLatencies.push(Date.now() - a.t);
  if (window.armatureLatencies.length > 5000) window.armatureLatencies.shift();
  if (view && a.points) view.draw(a.points);
}

function li(list, text, cls) {
  const item = document.createElement("li");
  item.textContent = text;
  if (cls) item.className = cls;
  list.appendChild(item);
  return item;
}

function showLists(l) {
  const t = l.current;
  const bar = $("task-progress");
  if (t) {
    $("task-action").textContent = t.action + ", " + t.state.replace("_", " ");
    bar.style.width = t.progress + "%";
    bar.setAttribute("aria-valuenow", t.progress.toFixed(1));
    $("task-message").textContent = t.message;
    $("task-eta").textContent = t.eta_s == null ? "–" : Math.round(t.eta_s) + " seconds";
    $("task-steps").textContent = t.steps ? `${t.steps.done} of ${t.steps.total} done, ${t.steps.label}` : "one motion";
  } else {
    $("task-action").textContent = "none";
    $("task-message").textContent = "";
    $("task-eta").textContent = "–";
    $("task-steps").textContent = "–";
  }
  // Rebuilt only when it changes, so a button is not replaced under the pointer.
  const pendingKey = JSON.stringify(l.pending.map((p) => [p.task_id, p.message]));
  if (pendingKey !== lastPending) showPending(l.pending, pendingKey);
  const recent = $("recent");
  recent.replaceChildren();
  for (const r of l.recent) {
    li(recent, `Task ${r.task_number}, ${r.action}: ${r.state.replace("_", " ")}, ${Math.round(r.progress)} percent. ${r.message}`, "task " + r.state);
  }
  const vars = $("vars").tBodies[0];
  vars.replaceChildren();
  for (const [k, v] of Object.entries(l.vars)) {
    const row = vars.insertRow();
    row.insertCell().textContent = k;
    row.insertCell().textContent = Array.isArray(v) ? v.map((x) => x.toFixed(3)).join(", ") : String(v);
  }
  const audit = $("audit");
  audit.replaceChildren();
  for (const e of l.audit.slice().reverse()) {
    li(audit, `${(e.time || "").slice(11, 19)} ${e.operator || ""} ${e.tool} ${e.outcome}${e.code ? " (" + e.code + ")" : ""}`);
  }
  const lp = l.loop || {};
  $("loop").textContent = `${(lp.rate_hz || 0).toFixed(0)} of ${(lp.target_rate_hz || 0).toFixed(0)} hertz, ` +
    `latency p50 ${Math.round(lp.latency_p50_us || 0)} µs, p99 ${Math.round(lp.latency_p99_us || 0)} µs, ` +
    `${lp.overruns || 0} overruns, ${lp.policy || "?"}${lp.memory_locked ? ", memory locked" : ""}`;
}

let lastPending = null;

function showPending(list, key) {
  lastPending = key;
  const pending = $("pending");
  pending.replaceChildren();
  for (const p of list) {
    const item = li(pending, p.action + ": " + p.message + " ", "pending");
    item.dataset.task = p.task_id;
    for (const [label, path] of [["Approve", "confirm"], ["Reject", "reject"]]) {
      const b = document.createElement("button");
      b.textContent = label;
      b.className = path;
      b.onclick = () => decide(path, p.task_id);
      item.appendChild(b);
    }
  }
  if (!list.length) li(pending, "nothing waiting");
}

async function decide(path, task) {
  const r = await fetch("/dashboard/" + path, {
    method: "POST",
    headers: headers({ "Content-Type": "application/json", "Accept": "application/json" }),
    body: JSON.stringify({ task_id: task }),
  });
  const a = await r.json().catch(() => ({}));
  $("stop-result").textContent = a.text || a.message || r.statusText;
}

// The 3D view: the arm as tubes between its joint origins, the cell's zones and the
// TCP's trail. three.js is loaded here, so a failure leaves the rest of the page working.
async function startView() {
  if (view) return;
  try {
    const THREE = await import("/dashboard/three.module.min.js");
    const box = $("view");
    const w = box.clientWidth || 480, h = 420;
    const renderer = new THREE.WebGLRenderer({ antialias: true, preserveDrawingBuffer: true });
    renderer.setSize(w, h);
    box.appendChild(renderer.domElement);
    const scene = new THREE.Scene();
    scene.background = new THREE.Color(0xf4f5f7);
    const camera = new THREE.PerspectiveCamera(45, w / h, 0.01, 20);
    camera.up.set(0, 0, 1); // the robot's base frame is z-up
    camera.position.set(1.9, -1.6, 1.2);
    camera.lookAt(0, 0, 0.35);
    scene.add(new THREE.AmbientLight(0xffffff, 1.2));
    const sun = new THREE.DirectionalLight(0xffffff, 2);
    sun.position.set(2, -1, 3);
    scene.add(sun);
    const grid = new THREE.GridHelper(2, 20, 0x999999, 0xdddddd);
    grid.rotation.x = Math.PI / 2;
    scene.add(grid);
    const links = new THREE.Group();
    scene.add(links);
    const linkMat = new THREE.MeshStandardMaterial({ color: 0x3b6ea5, metalness: 0.2, roughness: 0.6 });
    const jointMat = new THREE.MeshStandardMaterial({ color: 0x22313f });
    const trailPts = [];
    const trailGeo = new THREE.BufferGeometry();
    scene.add(new THREE.Line(trailGeo, new THREE.LineBasicMaterial({ color: 0xd9480f })));
    const up = new THREE.Vector3(0, 1, 0);
    // One unit cylinder and one ball, shared; each link scales its own mesh.
    const unitTube = new THREE.CylinderGeometry(1, 1, 1, 16);
    const unitBall = new THREE.SphereGeometry(1, 16, 12);
    const tubes = [], balls = [];
    function draw(points) {
      const v = points.map((p) => new THREE.Vector3(p[0], p[1], p[2]));
      for (let i = 0; i + 1 < v.length; i++) {
        if (!tubes[i]) {
          tubes[i] = new THREE.Mesh(unitTube, linkMat);
          balls[i] = new THREE.Mesh(unitBall, jointMat);
          links.add(tubes[i], balls[i]);
        }
        const len = v[i].distanceTo(v[i + 1]);
        const r = i + 2 >= v.length ? 0.012 : 0.04;
        tubes[i].visible = len > 1e-4;
        tubes[i].scale.set(r, Math.max(len, 1e-4), r);
        tubes[i].position.copy(v[i]).add(v[i + 1]).multiplyScalar(0.5);
        if (len > 1e-4) tubes[i].quaternion.setFromUnitVectors(up, v[i + 1].clone().sub(v[i]).normalize());
        balls[i].scale.setScalar(r * 1.3);
        balls[i].position.copy(v[i]);
      }
      const tcp = v[v.length - 1];
      const last = trailPts[trailPts.length - 1];
      if (!last || last.distanceTo(tcp) > 0.002) {
        trailPts.push(tcp);
        if (trailPts.length > TRAIL) trailPts.shift();
        trailGeo.setFromPoints(trailPts);
      }
      dirty = true;
    }
    // Rendered once per display frame, not per pushed state.
    let dirty = false;
    (function frame() {
      if (dirty) {
        dirty = false;
        renderer.render(scene, camera);
      }
      requestAnimationFrame(frame);
    })();
    const model = await fetch("/dashboard/model", { headers: headers() }).then((r) => r.ok ? r.json() : null).catch(() => null);
    if (model) addZones(THREE, scene, model.cell);
    view = { draw };
    $("view-note").textContent = model && model.kinematics ? model.kinematics : "";
  } catch (e) {
    $("view-note").textContent = "The 3D view could not start (" + e.message + "); the rest of the page works.";
  }
}

function addZones(THREE, scene, cell) {
  if (!cell) return;
  const boxMat = new THREE.MeshBasicMaterial({ color: 0xc92a2a, transparent: true, opacity: 0.25, depthWrite: false });
  for (const k of cell.keep_out || []) {
    const [a, b] = [k.min, k.max];
    const m = new THREE.Mesh(new THREE.BoxGeometry(b[0] - a[0], b[1] - a[1], b[2] - a[2]), boxMat);
    m.position.set((a[0] + b[0]) / 2, (a[1] + b[1]) / 2, (a[2] + b[2]) / 2);
    scene.add(m);
  }
  if (cell.workspace) {
    const [a, b] = [cell.workspace.min, cell.workspace.max];
    const geo = new THREE.EdgesGeometry(new THREE.BoxGeometry(b[0] - a[0], b[1] - a[1], b[2] - a[2]));
    const e = new THREE.LineSegments(geo, new THREE.LineBasicMaterial({ color: 0x2f9e44 }));
    e.position.set((a[0] + b[0]) / 2, (a[1] + b[1]) / 2, (a[2] + b[2]) / 2);
    scene.add(e);
  }
  for (const p of cell.planes || []) {
    const plane = new THREE.Mesh(new THREE.PlaneGeometry(1.6, 1.6),
      new THREE.MeshBasicMaterial({ color: 0x868e96, transparent: true, opacity: 0.15, side: THREE.DoubleSide, depthWrite: false }));
    plane.position.set(p.point[0], p.point[1], p.point[2]);
    plane.lookAt(p.point[0] + p.normal[0], p.point[1] + p.normal[1], p.point[2] + p.normal[2]);
    scene.add(plane);
  }
}

$("login-form").addEventListener("submit", (e) => {
  e.preventDefault();
  token = $("token").value.trim();
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
  logIn();
});
logIn();
