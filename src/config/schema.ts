/**
 * The configuration schema. Keys, env names and defaults (docs/operating.md, "Configure") are a
 * public contract: scripts and tests use them. `arg` names the `fleetkv start`
 * flag (`--node-id r1`). Durations take "500ms", "60s", "7d" or milliseconds.
 */
export const schema = {
  nodeId: { doc: "This node's id (1–64 of [A-Za-z0-9_.-]); empty = host name", format: String, default: '', env: 'FLEETKV_NODE_ID', arg: 'node-id' },
  fleetId: { doc: 'Fleet id; peers of another fleet are refused', format: String, default: 'default', env: 'FLEETKV_FLEET_ID', arg: 'fleet-id' },
  dataDir: { doc: 'Log and snapshot directory; empty = ./data/<nodeId>', format: String, default: '', env: 'FLEETKV_DATA_DIR', arg: 'data-dir' },
  fleetSecret: { doc: 'Shared fleet secret for peer authentication (HMAC); empty = unauthenticated', format: String, default: '', env: 'FLEETKV_FLEET_SECRET', sensitive: true },
  peers: { doc: 'Static peers, host:port, comma-separated', format: 'peer-list', default: [] as string[], env: 'FLEETKV_PEERS', arg: 'peers' },
  peer: {
    host: { doc: 'Peer listener address', format: String, default: '0.0.0.0', env: 'FLEETKV_PEER_HOST', arg: 'peer-host' },
    port: { doc: 'Peer listener port (0 = any free port)', format: 'port', default: 7400, env: 'FLEETKV_PEER_PORT', arg: 'peer-port' },
    tls: {
      enabled: { doc: 'Mutual TLS between peers (certificates signed by the fleet CA)', format: Boolean, default: false, env: 'FLEETKV_PEER_TLS' },
      ca: { doc: 'Fleet CA certificate (PEM file)', format: String, default: '', env: 'FLEETKV_PEER_TLS_CA' },
      cert: { doc: "This node's certificate (PEM file)", format: String, default: '', env: 'FLEETKV_PEER_TLS_CERT' },
      key: { doc: "This node's private key (PEM file)", format: String, default: '', env: 'FLEETKV_PEER_TLS_KEY', sensitive: true },
    },
  },
  discovery: {
    mdns: { doc: 'Find peers on the local network with mDNS/DNS-SD (_fleetkv._tcp)', format: Boolean, default: false, env: 'FLEETKV_DISCOVERY_MDNS' },
  },
  replication: {
    enabled: { doc: 'Replicate with peers', format: Boolean, default: true, env: 'FLEETKV_REPLICATION_ENABLED' },
    maxFrameBytes: { doc: 'Largest peer frame accepted; 0 = limits.maxValueBytes + 1 MiB', format: 'bytes', default: 0, env: 'FLEETKV_REPLICATION_MAX_FRAME_BYTES' },
    queueBytes: { doc: 'Live queue bound per peer; a peer further behind is moved back to catch-up', format: 'bytes', default: 8 * 1024 * 1024, env: 'FLEETKV_REPLICATION_QUEUE_BYTES' },
    antiEntropyInterval: { doc: 'Period of vector exchange (ACK), PING and gap checks', format: 'duration', default: 500, env: 'FLEETKV_REPLICATION_ANTI_ENTROPY_INTERVAL' },
    idleTimeout: { doc: 'Close a peer connection silent for this long', format: 'duration', default: 10_000, env: 'FLEETKV_REPLICATION_IDLE_TIMEOUT' },
    identityWait: { doc: 'After a start with peers, hold writes at most this long for the first peer to confirm the incarnation (docs/adr/0002)', format: 'duration', default: 3000, env: 'FLEETKV_REPLICATION_IDENTITY_WAIT' },
    handshakeTimeout: { doc: 'Close a connection that has not completed HELLO/AUTH in this time', format: 'duration', default: 5000, env: 'FLEETKV_REPLICATION_HANDSHAKE_TIMEOUT' },
    redialMin: { doc: 'First redial delay (doubles up to redialMax, with jitter)', format: 'duration', default: 100, env: 'FLEETKV_REPLICATION_REDIAL_MIN' },
    redialMax: { doc: 'Longest redial delay', format: 'duration', default: 10_000, env: 'FLEETKV_REPLICATION_REDIAL_MAX' },
    maxConnections: { doc: 'Most peer connections accepted at once (a flood beyond is refused)', format: 'nat', default: 64, env: 'FLEETKV_REPLICATION_MAX_CONNECTIONS' },
  },
  mqtt: {
    enabled: { doc: 'Run the embedded MQTT broker', format: Boolean, default: true, env: 'FLEETKV_MQTT_ENABLED' },
    host: { doc: 'MQTT listener address', format: String, default: '0.0.0.0', env: 'FLEETKV_MQTT_HOST', arg: 'mqtt-host' },
    port: { doc: 'MQTT listener port (0 = any free port)', format: 'port', default: 1883, env: 'FLEETKV_MQTT_PORT', arg: 'mqtt-port' },
    prefix: { doc: 'Topic prefix', format: String, default: 'fleet', env: 'FLEETKV_MQTT_PREFIX', arg: 'mqtt-prefix' },
    statusInterval: { doc: "Rewrite this node's status record (<prefix>/nodes/<nodeId>) at least this often", format: 'duration', default: 60_000, env: 'FLEETKV_MQTT_STATUS_INTERVAL' },
    tls: {
      enabled: { doc: 'Also listen for MQTT over TLS', format: Boolean, default: false, env: 'FLEETKV_MQTT_TLS_ENABLED' },
      port: { doc: 'MQTT over TLS port (0 = any free port)', format: 'port', default: 8883, env: 'FLEETKV_MQTT_TLS_PORT' },
      cert: { doc: 'PEM certificate chain file of the TLS listener', format: String, default: '', env: 'FLEETKV_MQTT_TLS_CERT' },
      key: { doc: 'PEM private key file of the TLS listener', format: String, default: '', env: 'FLEETKV_MQTT_TLS_KEY', sensitive: true },
      ca: { doc: 'PEM CA file: when set, clients must present a certificate it signed', format: String, default: '', env: 'FLEETKV_MQTT_TLS_CA' },
    },
    ws: {
      enabled: { doc: 'Also listen for MQTT over WebSocket', format: Boolean, default: false, env: 'FLEETKV_MQTT_WS_ENABLED' },
      port: { doc: 'MQTT over WebSocket port (0 = any free port)', format: 'port', default: 8083, env: 'FLEETKV_MQTT_WS_PORT' },
    },
    auth: {
      enabled: { doc: 'Require a username and password (users: mqtt.auth.users and/or mqtt.auth.usersFile)', format: Boolean, default: false, env: 'FLEETKV_MQTT_AUTH_ENABLED' },
      usersFile: { doc: 'JSON file of MQTT users ({"users": {name: {password, read, write}}}); `fleetkv passwd --file` edits it', format: String, default: '', env: 'FLEETKV_MQTT_USERS_FILE' },
      users: { doc: 'MQTT users inline: {name: {password: <fleetkv passwd hash>, read: [topic filters], write: [topic filters], clientIds: [patterns]}}', format: Object, default: {} as Record<string, MqttUserConfig> },
    },
    mirror: {
      doc: 'Topic filters (comma-separated) mirrored across the fleet: retained messages stored and replicated, live ones forwarded to every peer broker (docs/mqtt.md)',
      format: 'filter-list',
      default: [] as string[],
      env: 'FLEETKV_MQTT_MIRROR',
      arg: 'mqtt-mirror',
    },
    homeAssistant: {
      enabled: { doc: 'Publish Home Assistant MQTT discovery configs for every robot (status, battery; availability from presence)', format: Boolean, default: false, env: 'FLEETKV_MQTT_HOME_ASSISTANT' },
      prefix: { doc: 'Home Assistant discovery prefix', format: String, default: 'homeassistant', env: 'FLEETKV_MQTT_HOME_ASSISTANT_PREFIX' },
    },
    allowAnonymous: { doc: 'With mqtt.auth off, accept clients from other machines too (default: loopback clients only, "protected mode")', format: Boolean, default: false, env: 'FLEETKV_MQTT_ALLOW_ANONYMOUS' },
  },
  uplink: {
    enabled: { doc: 'Mirror the fleet state into another MQTT broker (cloud side); see docs/scaling.md', format: Boolean, default: false, env: 'FLEETKV_UPLINK_ENABLED' },
    url: { doc: 'Uplink broker URL (mqtt://, mqtts://, ws://, wss://)', format: String, default: '', env: 'FLEETKV_UPLINK_URL' },
    prefix: { doc: 'Topic prefix on the uplink broker: <prefix>/state/<key> out, <prefix>/set/<key> in', format: String, default: 'fleet', env: 'FLEETKV_UPLINK_PREFIX' },
    clientId: { doc: 'MQTT client id on the uplink broker; empty = fleetkv-<nodeId>', format: String, default: '', env: 'FLEETKV_UPLINK_CLIENT_ID' },
    username: { doc: 'Uplink broker username', format: String, default: '', env: 'FLEETKV_UPLINK_USERNAME' },
    password: { doc: 'Uplink broker password', format: String, default: '', env: 'FLEETKV_UPLINK_PASSWORD', sensitive: true },
    acceptSets: { doc: 'Apply writes published to <prefix>/set/<key> on the uplink broker', format: Boolean, default: false, env: 'FLEETKV_UPLINK_ACCEPT_SETS' },
    protocolVersion: { doc: 'MQTT version toward the uplink broker: 4 (3.1.1) or 5 (user properties origin/inc/seq/hlc, TTL as Message Expiry Interval)', format: [4, 5], default: 4, env: 'FLEETKV_UPLINK_PROTOCOL_VERSION' },
    reconnectPeriod: { doc: 'Delay between uplink reconnect attempts', format: 'duration', default: 2000, env: 'FLEETKV_UPLINK_RECONNECT_PERIOD' },
  },
  http: {
    host: { doc: 'HTTP API address', format: String, default: '127.0.0.1', env: 'FLEETKV_HTTP_HOST', arg: 'http-host' },
    port: { doc: 'HTTP API port (0 = any free port)', format: 'port', default: 7480, env: 'FLEETKV_HTTP_PORT', arg: 'http-port' },
    token: { doc: 'Bearer token that may read and write every key; empty = none (docs/http-api.md)', format: String, default: '', env: 'FLEETKV_HTTP_TOKEN', sensitive: true },
    tokens: { doc: 'More tokens: {name: {hash: "sha256:<hex>" (fleetkv token), read: [key prefixes], write: [key prefixes]}}', format: Object, default: {} as Record<string, HttpTokenConfig> },
    allowUnauthenticated: { doc: 'Allow http.host beyond loopback without a token (anyone on the network may read and write)', format: Boolean, default: false, env: 'FLEETKV_HTTP_ALLOW_UNAUTHENTICATED' },
  },
  log: {
    fsync: { doc: 'fsync policy: always | batch | interval | never', format: ['always', 'batch', 'interval', 'never'], default: 'batch', env: 'FLEETKV_FSYNC', arg: 'fsync' },
    fsyncInterval: { doc: 'fsync period under fsync=interval', format: 'duration', default: 100, env: 'FLEETKV_FSYNC_INTERVAL' },
    segmentBytes: { doc: 'Roll a segment at this size', format: 'bytes', default: 64 * 1024 * 1024, env: 'FLEETKV_SEGMENT_BYTES' },
    compactRatio: { doc: 'Compact when the log exceeds this multiple of the live state', format: Number, default: 4, env: 'FLEETKV_COMPACT_RATIO' },
    level: { doc: 'Log level: trace | debug | info | warn | error', format: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'], default: 'info', env: 'FLEETKV_LOG_LEVEL', arg: 'log-level' },
  },
  limits: {
    maxValueBytes: { doc: 'Largest value accepted', format: 'bytes', default: 1024 * 1024, env: 'FLEETKV_MAX_VALUE_BYTES' },
    forwardRate: { doc: 'Live publishes on mirrored topics this node forwards to its peers per second (more are dropped and counted); 0 = no bound', format: 'nat', default: 2000, env: 'FLEETKV_FORWARD_RATE' },
    forwardQueueBytes: { doc: 'Unsent bytes per peer above which a live mirrored publish for it is dropped (and counted)', format: 'bytes', default: 1024 * 1024, env: 'FLEETKV_FORWARD_QUEUE_BYTES' },
    historyBytes: { doc: 'Memory for the local version history of keys (GET /v1/kv/<key>?history=N, at most 64 versions a key); 0 = none', format: 'bytes', default: 8 * 1024 * 1024, env: 'FLEETKV_HISTORY_BYTES' },
    listMax: { doc: 'Largest `limit` of GET /v1/kv (a larger one is refused with LIMIT_TOO_LARGE); page with `after`', format: 'nat', default: 100_000, env: 'FLEETKV_LIST_MAX' },
    watchJournalEvents: { doc: 'Changes kept so a watcher that reconnects with Last-Event-ID gets what it missed; older ids get a reset', format: 'nat', default: 10_000, env: 'FLEETKV_WATCH_JOURNAL_EVENTS' },
    watchJournalBytes: { doc: 'Bytes of those kept changes at most', format: 'bytes', default: 4 * 1024 * 1024, env: 'FLEETKV_WATCH_JOURNAL_BYTES' },
    watchBufferBytes: { doc: 'Events buffered for one SSE watcher that does not read; a watcher further behind is dropped', format: 'bytes', default: 512 * 1024, env: 'FLEETKV_WATCH_BUFFER_BYTES' },
    mqttQueueMessages: { doc: 'Messages queued for the MQTT broker at most; beyond, new messages are dropped (counted, logged)', format: 'nat', default: 100_000, env: 'FLEETKV_MQTT_QUEUE_MESSAGES' },
    mqttClientQueueBytes: { doc: 'Bytes waiting to be sent to one MQTT client at most; a client further behind is disconnected', format: 'bytes', default: 4 * 1024 * 1024, env: 'FLEETKV_MQTT_CLIENT_QUEUE_BYTES' },
    mqttDrainTimeout: { doc: 'An MQTT client that has not read what it was sent for this long is disconnected (it holds up delivery meanwhile)', format: 'duration', default: 2000, env: 'FLEETKV_MQTT_DRAIN_TIMEOUT' },
    mqttRetainedBytes: {
      doc: 'Total bytes (topic + payload) of retained messages outside <prefix>/ the broker keeps; beyond, a retained publish is refused with RETAINED_LIMIT',
      format: 'bytes',
      default: 16 * 1024 * 1024,
      env: 'FLEETKV_MQTT_RETAINED_BYTES',
    },
    mqttPartialBytes: { doc: 'Total bytes of half-received MQTT packets held for all clients; the client whose packet passes it is disconnected', format: 'bytes', default: 64 * 1024 * 1024, env: 'FLEETKV_MQTT_PARTIAL_BYTES' },
    mqttPartialTimeout: { doc: 'An MQTT client that leaves a packet half-sent for this long is disconnected', format: 'duration', default: 10_000, env: 'FLEETKV_MQTT_PARTIAL_TIMEOUT' },
    httpKeepAliveTimeout: { doc: 'Close an idle HTTP keep-alive connection after this long', format: 'duration', default: 5000, env: 'FLEETKV_HTTP_KEEP_ALIVE_TIMEOUT' },
    httpHeadersTimeout: { doc: 'Close an HTTP connection that has not sent its request headers in this time', format: 'duration', default: 10_000, env: 'FLEETKV_HTTP_HEADERS_TIMEOUT' },
    httpRequestTimeout: { doc: 'Close an HTTP connection that has not sent its whole request (headers and body) in this time', format: 'duration', default: 30_000, env: 'FLEETKV_HTTP_REQUEST_TIMEOUT' },
    httpMaxConnections: { doc: 'Most HTTP connections open at once; more are closed at once', format: 'nat', default: 1024, env: 'FLEETKV_HTTP_MAX_CONNECTIONS' },
  },
  tombstoneRetention: { doc: 'Wait at most this long for a peer that lacks a tombstone before it is dropped (the peer then gets a full resync)', format: 'duration', default: 7 * 86_400_000, env: 'FLEETKV_TOMBSTONE_RETENTION' },
  tombstoneGcInterval: { doc: 'How often tombstones are collected', format: 'duration', default: 60_000, env: 'FLEETKV_TOMBSTONE_GC_INTERVAL' },
  maxClockSkew: { doc: 'Entries stamped further ahead of this clock are applied, counted and logged, but do not move this clock', format: 'duration', default: 60_000, env: 'FLEETKV_MAX_CLOCK_SKEW' },
  presence: {
    enabled: { doc: "Heartbeat this node's status record with a TTL and say goodbye on stop (fleet-wide presence); off: peers see it through sessions only", format: Boolean, default: true, env: 'FLEETKV_PRESENCE_ENABLED' },
    timeout: { doc: 'A node not heard from for this long is shown offline by the others (its status record is written with this TTL, refreshed every third of it)', format: 'duration', default: 15_000, env: 'FLEETKV_PRESENCE_TIMEOUT' },
  },
};

/** One MQTT user: a `fleetkv passwd` hash and topic filters it may read (subscribe) and write (publish); absent = all. */
export interface MqttUserConfig {
  password: string;
  read?: string[];
  write?: string[];
  /** Client ids the user may connect with: patterns with `*` (any characters) and `%u` (the user name). */
  clientIds?: string[];
}

/** One HTTP token: the SHA-256 of the token (never the token) and the key prefixes it may read and write ("" = every key). */
export interface HttpTokenConfig {
  hash: string;
  read?: string[];
  write?: string[];
}

export type FsyncPolicyName = 'always' | 'batch' | 'interval' | 'never';

/** The loaded configuration, with derived defaults filled in. */
export interface FleetConfig {
  nodeId: string;
  fleetId: string;
  dataDir: string;
  fleetSecret: string;
  peers: string[];
  peer: { host: string; port: number; tls: { enabled: boolean; ca: string; cert: string; key: string } };
  discovery: { mdns: boolean };
  replication: {
    enabled: boolean;
    maxFrameBytes: number;
    queueBytes: number;
    antiEntropyInterval: number;
    idleTimeout: number;
    identityWait: number;
    handshakeTimeout: number;
    redialMin: number;
    redialMax: number;
    maxConnections: number;
  };
  mqtt: {
    enabled: boolean;
    host: string;
    port: number;
    prefix: string;
    statusInterval: number;
    tls: { enabled: boolean; port: number; cert: string; key: string; ca: string };
    ws: { enabled: boolean; port: number };
    auth: { enabled: boolean; usersFile: string; users: Record<string, MqttUserConfig> };
    allowAnonymous: boolean;
    mirror: string[];
    homeAssistant: { enabled: boolean; prefix: string };
  };
  uplink: { enabled: boolean; url: string; prefix: string; clientId: string; username: string; password: string; acceptSets: boolean; protocolVersion: 4 | 5; reconnectPeriod: number };
  http: { host: string; port: number; token: string; tokens: Record<string, HttpTokenConfig>; allowUnauthenticated: boolean };
  log: { fsync: FsyncPolicyName; fsyncInterval: number; segmentBytes: number; compactRatio: number; level: string };
  limits: {
    maxValueBytes: number;
    historyBytes: number;
    forwardRate: number;
    forwardQueueBytes: number;
    listMax: number;
    watchBufferBytes: number;
    watchJournalEvents: number;
    watchJournalBytes: number;
    mqttQueueMessages: number;
    mqttClientQueueBytes: number;
    mqttDrainTimeout: number;
    mqttRetainedBytes: number;
    mqttPartialBytes: number;
    mqttPartialTimeout: number;
    httpKeepAliveTimeout: number;
    httpHeadersTimeout: number;
    httpRequestTimeout: number;
    httpMaxConnections: number;
  };
  tombstoneRetention: number;
  tombstoneGcInterval: number;
  maxClockSkew: number;
  presence: { enabled: boolean; timeout: number };
}
