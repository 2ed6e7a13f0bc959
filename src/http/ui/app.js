// @ts-check
// The fleet page (docs/robots.md): everything comes from the node that serves it.
// /v1/fleet gives robots, nodes and conflicts in one document; /v1/watch (SSE)
// says when robot documents or node status records change, and the page
// fetches /v1/fleet again (at most every REFRESH_MIN_MS). Peer sessions are
// not keys, so a slow poll catches a peer going away even when no key changes.

const REFRESH_MIN_MS = 200;
const POLL_MS = 2000;
const SVG = 'http://www.w3.org/2000/svg';
const STATUS_COLOURS = /** @type {Record<string, string>} */ ({
  idle: '#57606a',
  moving: '#0969da',
  working: '#1a7f37',
  charging: '#bf8700',
  paused: '#8250df',
  error: '#cf222e',
});

/**
 * @typedef {{ x: number, y: number, yaw: number, map: string }} Pose
 * @typedef {{ id: string, pose: Pose | null, status: string | null, battery: number | null, mission: { id: string } | null,
 *   issues: { category: string }[], lastSeen: string, node: string, online: boolean, problems: { key: string, message: string }[] }} Robot
 * @typedef {{ id: string, self: boolean, online: boolean, state: string, address: string | null, lag: { entries: number, ms: number } | null,
 *   peers: { nodeId: string, state: string }[], version: string | null, recordAt: string | null }} FleetNodeInfo
 * @typedef {{ origin: string, hlc: string, op: string }} Side
 * @typedef {{ key: string, reason: string, winner: Side, loser: Side, at: string }} Conflict
 * @typedef {{ nodeId: string, fleetId: string, at: string, robots: Robot[], nodes: FleetNodeInfo[], conflicts: Conflict[] }} Fleet
 */

/** @param {string} id */
function byId(id) {
  const el = document.getElementById(id);
  if (!el) throw new Error(`page element #${id} is missing`);
  return el;
}

/**
 * @param {string} tag
 * @param {Record<string, string>} [attrs]
 * @param {(string | Node)[]} [children]
 */
function el(tag, attrs = {}, children = []) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  for (const c of children) e.append(c);
  return e;
}

/**
 * @param {string} tag
 * @param {Record<string, string | number>} [attrs]
 */
function svg(tag, attrs = {}) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  return e;
}

/** @param {string} iso @param {number} now */
function ago(iso, now) {
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  return `${Math.floor(s / 3600)} h ago`;
}

/** @type {[number, number, number, number] | undefined} the extent of every pose shown so far */
let seen;

/** @param {Robot[]} robots */
function renderMap(robots) {
  const map = byId('map');
  const placed = robots.filter((r) => r.pose);
  const maps = [...new Set(placed.map((r) => /** @type {Pose} */ (r.pose).map))];
  byId('map-note').textContent = placed.length === 0 ? 'no robot has a pose yet' : `map${maps.length > 1 ? 's' : ''}: ${maps.join(', ')}`;
  let [x0, x1, y0, y1] = [Infinity, -Infinity, Infinity, -Infinity];
  for (const r of placed) {
    const p = /** @type {Pose} */ (r.pose);
    x0 = Math.min(x0, p.x);
    x1 = Math.max(x1, p.x);
    y0 = Math.min(y0, p.y);
    y1 = Math.max(y1, p.y);
  }
  if (placed.length === 0) [x0, x1, y0, y1] = [-5, 5, -5, 5];
  // The view only grows, so that it stays still while robots move inside it.
  if (seen) [x0, x1, y0, y1] = [Math.min(x0, seen[0]), Math.max(x1, seen[1]), Math.min(y0, seen[2]), Math.max(y1, seen[3])];
  if (placed.length > 0) seen = [x0, x1, y0, y1];
  // Scaled to the poses, with a margin, never smaller than 4 units across.
  const span = Math.max(x1 - x0, y1 - y0, 4);
  const pad = span * 0.15;
  const cx = (x0 + x1) / 2;
  const cy = (y0 + y1) / 2;
  const half = span / 2 + pad;
  // World y points up; SVG y points down: the content is drawn in a group flipped on y.
  map.setAttribute('viewBox', `${cx - half} ${-cy - half} ${2 * half} ${2 * half}`);
  const world = svg('g', { transform: 'scale(1,-1)' });
  const step = Math.pow(10, Math.floor(Math.log10(span / 2)));
  for (let gx = Math.ceil((cx - half) / step) * step; gx <= cx + half; gx += step) world.append(svg('line', { class: 'grid', x1: gx, x2: gx, y1: cy - half, y2: cy + half, 'stroke-width': half / 400 }));
  for (let gy = Math.ceil((cy - half) / step) * step; gy <= cy + half; gy += step) world.append(svg('line', { class: 'grid', y1: gy, y2: gy, x1: cx - half, x2: cx + half, 'stroke-width': half / 400 }));
  const size = half / 25;
  for (const r of placed) {
    const p = /** @type {Pose} */ (r.pose);
    const g = svg('g', { class: `robot ${r.online ? 'online' : 'offline'}`, 'data-robot': r.id, 'data-x': p.x, 'data-y': p.y, 'data-yaw': p.yaw, transform: `translate(${p.x} ${p.y})` });
    const colour = STATUS_COLOURS[r.status ?? ''] ?? '#57606a';
    g.append(svg('line', { x1: 0, y1: 0, x2: Math.cos(p.yaw) * size * 2.4, y2: Math.sin(p.yaw) * size * 2.4, stroke: colour, 'stroke-width': size / 2.5, 'stroke-linecap': 'round', class: 'heading' }));
    g.append(svg('circle', { r: size, fill: colour, 'stroke-width': size / 5 }));
    const label = svg('text', { x: size * 1.4, y: -size * 1.4, 'font-size': size * 1.6, transform: 'scale(1,-1)' });
    label.textContent = r.id;
    g.append(label);
    const title = svg('title');
    title.textContent = `${r.id}: ${r.status ?? '?'} at (${p.x.toFixed(2)}, ${p.y.toFixed(2)}), yaw ${p.yaw.toFixed(2)} on ${p.map}${r.online ? '' : ' — offline'}`;
    g.append(title);
    world.append(g);
  }
  map.replaceChildren(world);
}

/** @param {boolean} online */
function onlineCell(online) {
  return el('td', { class: `online-cell ${online ? 'online' : 'offline'}` }, [online ? 'online' : 'offline']);
}

/** @param {Robot[]} robots @param {number} now */
function renderRobots(robots, now) {
  byId('robot-count').textContent = `(${robots.length})`;
  const rows = robots.map((r) => {
    const pose = r.pose ? `${r.pose.x.toFixed(2)}, ${r.pose.y.toFixed(2)}, ${r.pose.yaw.toFixed(2)}` : '—';
    const status = el('td', { class: 'status' }, [r.status ?? '—']);
    if (r.issues.length > 0) status.append(el('span', { class: 'problem', title: r.issues.map((i) => i.category).join(', ') }, [` ⚠ ${r.issues.length}`]));
    if (r.problems.length > 0) status.append(el('span', { class: 'problem', title: r.problems.map((p) => p.message).join('\n') }, [' (malformed document)']));
    return el('tr', { 'data-robot': r.id, class: r.online ? 'online' : 'offline' }, [
      el('td', {}, [r.id]),
      status,
      el('td', { class: 'num battery' }, [r.battery === null ? '—' : `${Math.round(r.battery * 100)} %`]),
      el('td', { class: 'num pose' }, [pose]),
      el('td', {}, [r.mission ? r.mission.id : '—']),
      el('td', { class: 'seen' }, [ago(r.lastSeen, now)]),
      onlineCell(r.online),
    ]);
  });
  byId('robots')
    .querySelector('tbody')
    ?.replaceChildren(...rows);
}

/** @param {FleetNodeInfo[]} nodes */
function renderNodes(nodes) {
  const rows = nodes.map((n) =>
    el('tr', { 'data-node': n.id, 'data-online': String(n.online), class: n.online ? 'online' : 'offline' }, [
      el('td', {}, [n.self ? `${n.id} (this node)` : n.id]),
      el('td', { class: 'state' }, [n.state]),
      onlineCell(n.online),
      el('td', { class: 'num' }, [n.lag ? `${n.lag.entries} entries / ${n.lag.ms} ms` : '—']),
      el('td', n.self || !n.recordAt ? {} : { title: `from its status record of ${n.recordAt}` }, [n.peers.length ? n.peers.map((p) => `${p.nodeId} (${p.state})`).join(', ') : '—']),
      el('td', {}, [n.version ?? '—']),
    ]),
  );
  byId('nodes')
    .querySelector('tbody')
    ?.replaceChildren(...rows);
}

/** @param {Conflict[]} conflicts @param {number} now */
function renderConflicts(conflicts, now) {
  byId('no-conflicts').hidden = conflicts.length > 0;
  const rows = [...conflicts]
    .reverse()
    .map((c) => el('tr', {}, [el('td', {}, [ago(c.at, now)]), el('td', {}, [c.key]), el('td', {}, [c.reason]), el('td', {}, [`${c.winner.origin} ${c.winner.op}`]), el('td', {}, [`${c.loser.origin} ${c.loser.op}`])]));
  byId('conflicts')
    .querySelector('tbody')
    ?.replaceChildren(...rows);
}

/** @param {Fleet} f */
function render(f) {
  const now = Date.parse(f.at);
  byId('fleet').textContent = `— fleet ${f.fleetId}`;
  byId('via').textContent = `via ${f.nodeId}`;
  renderMap(f.robots);
  renderRobots(f.robots, now);
  renderNodes(f.nodes);
  renderConflicts(f.conflicts, now);
  document.body.dataset.updated = f.at;
}

let timer = /** @type {ReturnType<typeof setTimeout> | undefined} */ (undefined);
let last = 0;
let fetching = false;

async function refresh() {
  timer = undefined;
  if (fetching) return schedule();
  fetching = true;
  last = Date.now();
  try {
    const r = await fetch('/v1/fleet', { cache: 'no-store' });
    if (r.ok) render(/** @type {Fleet} */ (await r.json()));
  } catch {
    setLive(false);
  } finally {
    fetching = false;
  }
}

/** Coalesce bursts of changes into one refresh. */
function schedule() {
  if (timer !== undefined) return;
  timer = setTimeout(() => void refresh(), Math.max(0, REFRESH_MIN_MS - (Date.now() - last)));
}

/** @param {boolean} on */
function setLive(on) {
  const b = byId('live');
  b.textContent = on ? 'live' : 'reconnecting…';
  b.className = `badge ${on ? 'on' : 'off'}`;
}

/** @param {string} prefix */
function watch(prefix) {
  const es = new EventSource(`/v1/watch?prefix=${encodeURIComponent(prefix)}`);
  es.onopen = () => {
    setLive(true);
    schedule();
  };
  es.onmessage = () => schedule();
  es.onerror = () => setLive(false); // EventSource reconnects by itself
}

watch('robots/');
watch('_fleetkv/nodes/');
setInterval(schedule, POLL_MS);
void refresh();
