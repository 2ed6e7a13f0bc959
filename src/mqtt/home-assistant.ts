import type { NodeHost } from '../node-host.js';
import { ROBOT_PREFIX, mergeRobots } from '../robots/model.js';
import { VERSION } from '../version.js';
import { presence } from './presence.js';
import type { EntryPublisher } from './publisher.js';
import type { Topics } from './topics.js';

const CHECK_MS = 1000;

/**
 * Home Assistant MQTT discovery (opt-in, `mqtt.homeAssistant.enabled`,
 * docs/mqtt.md "Home Assistant"): for every robot in the store
 * (`robots/<id>/…`, docs/robots.md) one device with a status and a battery
 * sensor, announced by retained configs on
 * `<discovery>/sensor/fleetkv_<id>/{status,battery}/config` in this broker;
 * their states are the robot's `state/` topics; availability is
 * `<discovery>/fleetkv/<id>/availability` (`online`/`offline`, retained),
 * from presence of the node that wrote the robot's newest field. Announced
 * again when Home Assistant says `online` on `<discovery>/status`.
 */
export class HomeAssistantDiscovery {
  private readonly announced = new Set<string>();
  private readonly available = new Map<string, string>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly node: NodeHost,
    private readonly publisher: EntryPublisher,
    private readonly topics: Topics,
    readonly prefix: string,
  ) {}

  get statusTopic(): string {
    return `${this.prefix}/status`;
  }

  start(): void {
    this.check();
    this.timer = setInterval(() => this.check(), CHECK_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Home Assistant (re)started (`online` on its status topic): announce every robot again. */
  announceAgain(): void {
    this.announced.clear();
    this.available.clear();
    this.check();
  }

  check(): void {
    for (const r of mergeRobots(this.node.store.list(ROBOT_PREFIX), presence(this.node))) {
      const id = objectId(r.id);
      if (!this.announced.has(r.id)) {
        this.announced.add(r.id);
        for (const [topic, config] of this.configs(r.id, id)) this.publisher.retainInBroker(topic, Buffer.from(JSON.stringify(config)));
      }
      const a = r.online ? 'online' : 'offline';
      if (this.available.get(r.id) !== a) {
        this.available.set(r.id, a);
        this.publisher.retainInBroker(this.availabilityTopic(id), Buffer.from(a));
      }
    }
  }

  availabilityTopic(objectIdOfRobot: string): string {
    return `${this.prefix}/fleetkv/${objectIdOfRobot}/availability`;
  }

  private configs(robotId: string, id: string): [string, Record<string, unknown>][] {
    const device = { identifiers: [`fleetkv_${id}`], name: robotId, manufacturer: 'fleetkv', model: 'robot', sw_version: VERSION };
    const common = { availability_topic: this.availabilityTopic(id), device };
    return [
      [
        `${this.prefix}/sensor/fleetkv_${id}/status/config`,
        { name: 'Status', unique_id: `fleetkv_${id}_status`, object_id: `fleetkv_${id}_status`, state_topic: this.topics.state(`${ROBOT_PREFIX}${robotId}/status`), value_template: '{{ value_json }}', icon: 'mdi:robot', ...common },
      ],
      [
        `${this.prefix}/sensor/fleetkv_${id}/battery/config`,
        {
          name: 'Battery',
          unique_id: `fleetkv_${id}_battery`,
          object_id: `fleetkv_${id}_battery`,
          state_topic: this.topics.state(`${ROBOT_PREFIX}${robotId}/battery`),
          value_template: '{{ (value_json | float * 100) | round(0) }}',
          device_class: 'battery',
          unit_of_measurement: '%',
          state_class: 'measurement',
          ...common,
        },
      ],
    ];
  }
}

/** Home Assistant's node and object ids are [A-Za-z0-9_-]: anything else becomes '_'. */
function objectId(id: string): string {
  return id.replace(/[^A-Za-z0-9_-]/g, '_');
}
