import type { Entry } from '../entry/entry.js';
import { validateKey } from '../entry/key.js';
import { FleetError } from '../errors.js';

/**
 * The robot model (docs/robots.md): each robot's state lives in a few
 * ordinary keys, `robots/<id>/<field>`, each a JSON document written by the
 * robot's own node. The fields follow Open-RMF's robot_state
 * (rmf_api_msgs): `pose` ↔ `location` {map, x, y, yaw}, `status` ↔ `status`,
 * `battery` ↔ `battery` (0–1), `mission` ↔ `task_id`, `issues` ↔ `issues`.
 * This module only parses, validates and merges: no I/O.
 */
export const ROBOT_PREFIX = 'robots/';
export const ROBOT_FIELDS = ['pose', 'status', 'battery', 'mission', 'issues'] as const;
export type RobotField = (typeof ROBOT_FIELDS)[number];

/** Open-RMF's statuses plus `moving` and `paused` (RMF's RobotMode has both). */
export const ROBOT_STATUSES = ['uninitialized', 'offline', 'shutdown', 'idle', 'moving', 'charging', 'working', 'paused', 'error'] as const;
export type RobotStatus = (typeof ROBOT_STATUSES)[number];

export interface Pose {
  x: number;
  y: number;
  /** Heading in radians, counter-clockwise from the map's x axis. */
  yaw: number;
  /** The map (RMF: level / map name) the coordinates are on. */
  map: string;
}

/** What the robot works on; `id` maps to RMF's task_id. Other fields are kept as written. */
export interface Mission {
  id: string;
  [field: string]: unknown;
}

/** RMF's issue: a category and any detail. */
export interface Issue {
  category: string;
  detail?: unknown;
}

/** A field whose stored document does not follow the conventions (written raw over HTTP or MQTT). */
export interface RobotProblem {
  key: string;
  code: 'ROBOT_DOC_INVALID';
  message: string;
}

/** One robot, merged from its keys. A field never written (or malformed) is null. */
export interface RobotState {
  id: string;
  pose: Pose | null;
  status: RobotStatus | null;
  battery: number | null;
  mission: Mission | null;
  issues: Issue[];
  /** Newest write to any of its fields, by the writer's hybrid clock (ISO 8601). */
  lastSeen: string;
  /** The node that wrote the newest of its fields (normally the robot's own). */
  node: string;
  /** Whether `node` is reachable now (see online.ts). */
  online: boolean;
  problems: RobotProblem[];
}

const STATUS_SET = new Set<string>(ROBOT_STATUSES);
const MAX_MAP_NAME = 256;
const MAX_ISSUES = 64;

function invalid(key: string, message: string): FleetError {
  return new FleetError('ROBOT_DOC_INVALID', `${key}: ${message}`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** A robot id is one key level: `robots/<id>/pose` must be a valid key and `<id>` hold no '/'. */
export function validateRobotId(id: unknown): string {
  if (typeof id !== 'string' || id.length === 0 || id.includes('/')) {
    throw new FleetError('KEY_INVALID', `robot id must be a non-empty string without '/', not ${JSON.stringify(id)}`);
  }
  validateKey(robotKey(id, 'status'));
  return id;
}

export function robotKey(id: string, field: RobotField): string {
  return `${ROBOT_PREFIX}${id}/${field}`;
}

/** `robots/<id>/<field>` → [id, field] for the five conventional fields; undefined for any other key. */
export function parseRobotKey(key: string): [string, RobotField] | undefined {
  if (!key.startsWith(ROBOT_PREFIX)) return undefined;
  const rest = key.slice(ROBOT_PREFIX.length);
  const slash = rest.indexOf('/');
  if (slash <= 0 || rest.indexOf('/', slash + 1) !== -1) return undefined;
  const field = rest.slice(slash + 1);
  return (ROBOT_FIELDS as readonly string[]).includes(field) ? [rest.slice(0, slash), field as RobotField] : undefined;
}

const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** Check one field's document (already parsed from JSON); returns it typed or throws ROBOT_DOC_INVALID. */
export function validateField(field: 'pose', doc: unknown, key?: string): Pose;
export function validateField(field: 'status', doc: unknown, key?: string): RobotStatus;
export function validateField(field: 'battery', doc: unknown, key?: string): number;
export function validateField(field: 'mission', doc: unknown, key?: string): Mission | null;
export function validateField(field: 'issues', doc: unknown, key?: string): Issue[];
export function validateField(field: RobotField, doc: unknown, key?: string): unknown;
export function validateField(field: RobotField, doc: unknown, key: string = field): unknown {
  switch (field) {
    case 'pose': {
      if (!isObject(doc)) throw invalid(key, 'a pose is a JSON object {"x", "y", "yaw", "map"}');
      for (const k of ['x', 'y', 'yaw'] as const) if (!finite(doc[k])) throw invalid(key, `pose.${k} must be a finite number, not ${JSON.stringify(doc[k])}`);
      if (typeof doc.map !== 'string' || doc.map.length === 0 || doc.map.length > MAX_MAP_NAME) throw invalid(key, `pose.map must be a map name (1–${MAX_MAP_NAME} characters)`);
      return { x: doc.x, y: doc.y, yaw: doc.yaw, map: doc.map } as Pose;
    }
    case 'status':
      if (typeof doc !== 'string' || !STATUS_SET.has(doc)) throw invalid(key, `status must be one of ${ROBOT_STATUSES.join('|')}, not ${JSON.stringify(doc)}`);
      return doc;
    case 'battery':
      if (!finite(doc) || doc < 0 || doc > 1) throw invalid(key, `battery is a charge fraction from 0 to 1, not ${JSON.stringify(doc)}`);
      return doc;
    case 'mission':
      if (doc === null) return null;
      if (!isObject(doc) || typeof doc.id !== 'string' || doc.id.length === 0) throw invalid(key, 'a mission is null or a JSON object with a non-empty string "id"');
      return doc;
    case 'issues':
      if (!Array.isArray(doc) || doc.length > MAX_ISSUES) throw invalid(key, `issues is a JSON array of at most ${MAX_ISSUES} {"category", "detail"} objects`);
      for (const i of doc) if (!isObject(i) || typeof i.category !== 'string' || i.category.length === 0) throw invalid(key, 'each issue needs a non-empty string "category"');
      return doc;
  }
}

/**
 * Parse a stored value. Documents are JSON; a bare status word (`idle`, as
 * `fleetkv put robots/r1/status idle` writes it) is read as that word.
 */
export function parseField(field: RobotField, key: string, value: Buffer): unknown {
  const text = value.toString('utf8');
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    if (field !== 'status' || !/^[a-z_]+$/.test(text.trim())) throw invalid(key, 'not a JSON document');
    doc = text.trim();
  }
  return validateField(field, doc, key);
}

/** Encode a field for storage (validated first: a malformed document is never written). */
export function encodeField(field: RobotField, doc: unknown): Buffer {
  validateField(field, doc);
  return Buffer.from(JSON.stringify(doc));
}

/**
 * Merge the entries under `robots/` (live entries, in key order, as the
 * store lists them) into one state per robot. `online(nodeId)` says whether
 * a node is reachable (online.ts); `wallToIso` formats a hybrid clock wall.
 */
export function mergeRobots(entries: Iterable<Entry>, online: (nodeId: string) => boolean): RobotState[] {
  const byId = new Map<string, { state: RobotState; newest: number }>();
  for (const e of entries) {
    const parsed = parseRobotKey(e.key);
    if (!parsed) continue;
    const [id, field] = parsed;
    let r = byId.get(id);
    if (!r) {
      r = { state: { id, pose: null, status: null, battery: null, mission: null, issues: [], lastSeen: '', node: e.origin, online: false, problems: [] }, newest: -1 };
      byId.set(id, r);
    }
    if (e.wall > r.newest) {
      r.newest = e.wall;
      r.state.node = e.origin;
    }
    try {
      const doc = parseField(field, e.key, e.value);
      (r.state as unknown as Record<string, unknown>)[field] = doc;
    } catch (err) {
      r.state.problems.push({ key: e.key, code: 'ROBOT_DOC_INVALID', message: (err as Error).message });
    }
  }
  const out: RobotState[] = [];
  for (const { state, newest } of byId.values()) {
    state.lastSeen = new Date(newest).toISOString();
    state.online = online(state.node);
    out.push(state);
  }
  return out;
}
