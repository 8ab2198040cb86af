"use strict";
// Drives the unchanged npm package marathon-event-bus-client@0.1.7 against Corral's Marathon
// event bus (GET /v2/events on the master's --apps-port, API-COMPAT.md §6.7 and §7.2).
//
// Environment: MARATHON_PORT (the apps port), APP_ID (the app whose deployment we wait for),
// TIMEOUT_MS [60000].
//
// Prints one line per milestone:
//   SUBSCRIBED                      the library opened the stream (once per (re)connection)
//   EVENT <type> key=value ...      one line per event received; values never contain spaces
//   ERROR <details>                 the library reported an error (a non-200 answer, a disconnect)
//   NOTE <text>                     something about the library itself worth knowing
//   DONE | FAILED | TIMEOUT         the end
// and exits 0 after deployment_success for APP_ID, 1 after deployment_failed for it or the
// timeout.
//
// The library only registers listeners for the types on its own allow list, and that list has
// no api_post_event (it silently drops it from eventTypes). So that one type is listened to on
// the library's own EventSource (bus.es, same connection) after subscribe().
const MarathonEventBusClient = require("marathon-event-bus-client");

const port = parseInt(process.env.MARATHON_PORT || "8080", 10);
const appId = process.env.APP_ID || "/bus-test";
const timeoutMs = parseInt(process.env.TIMEOUT_MS || "60000", 10);

const eventTypes = ["deployment_info", "deployment_success", "deployment_failed",
    "status_update_event", "api_post_event"];

function show(v) {
    if (v === undefined)
        return "-";
    if (v === null)
        return "null";
    const s = typeof v === "string" ? v : JSON.stringify(v);
    return s === "" ? "''" : s.replace(/\s+/g, "_");
}

// The app ids a deployment plan touches: Marathon puts the plan under "plan" with
// steps[].actions[].app.
function planApps(plan) {
    const apps = [];
    if (plan && Array.isArray(plan.steps))
        for (const step of plan.steps)
            for (const action of (step && step.actions) || [])
                if (action && action.app && apps.indexOf(action.app) < 0)
                    apps.push(action.app);
    return apps;
}

// "currentStep" in Marathon's deployment_info is {actions: [{action, app}]}.
function stepActions(step) {
    if (!step || typeof step !== "object" || !Array.isArray(step.actions))
        return undefined;
    return step.actions.map((a) => a.action + ":" + a.app).join(",");
}

function fields(type, d) {
    switch (type) {
    case "api_post_event":
        return { uri: d.uri, clientIp: d.clientIp,
            app: d.appDefinition ? d.appDefinition.id : undefined };
    case "status_update_event":
        return { appId: d.appId, taskId: d.taskId, taskStatus: d.taskStatus, host: d.host,
            slaveId: d.slaveId, ports: d.ports, version: d.version };
    case "deployment_info":
        return { planId: d.plan ? d.plan.id : undefined, planApps: planApps(d.plan),
            currentStep: stepActions(d.currentStep),
            currentStepRaw: typeof d.currentStep === "object" ? undefined : d.currentStep,
            id: d.id, affectedApps: d.affectedApps };
    case "deployment_success":
    case "deployment_failed":
        return { id: d.id, planId: d.plan ? d.plan.id : undefined, planApps: planApps(d.plan),
            affectedApps: d.affectedApps, reason: d.reason };
    default:
        return {};
    }
}

// Whether a deployment event is about APP_ID: by Marathon's plan, or failing that by
// Corral's flat affectedApps (so a shape mismatch is reported by the test, not a timeout).
function aboutApp(d) {
    if (planApps(d.plan).indexOf(appId) >= 0)
        return true;
    return Array.isArray(d.affectedApps) && d.affectedApps.indexOf(appId) >= 0;
}

let finished = false;
function finish(word, code) {
    if (finished)
        return;
    finished = true;
    clearTimeout(deadline);
    console.log(word);
    bus.unsubscribe();
    setTimeout(() => process.exit(code), 300);
}
const deadline = setTimeout(() => finish("TIMEOUT", 1), timeoutMs);

function onEvent(type, data) {
    const f = fields(type, data);
    const line = ["EVENT", type, "eventType=" + show(data.eventType),
        "timestamp=" + show(data.timestamp)];
    for (const k of Object.keys(f))
        if (f[k] !== undefined)
            line.push(k + "=" + show(f[k]));
    console.log(line.join(" "));
    if (type === "deployment_success" && aboutApp(data))
        finish("DONE", 0);
    else if (type === "deployment_failed" && aboutApp(data))
        finish("FAILED", 1);
}

const handlers = {};
for (const t of eventTypes)
    handlers[t] = onEvent;

const bus = new MarathonEventBusClient({
    marathonHost: "127.0.0.1",
    marathonPort: port,
    eventTypes: eventTypes,
    handlers: handlers
});

for (const t of eventTypes)
    if (bus.options.eventTypes.indexOf(t) < 0)
        console.log("NOTE library ignores event type " + t);

bus.on("subscribed", () => console.log("SUBSCRIBED"));
bus.on("error", (e) => {
    const err = e && e.error ? e.error : e;
    console.log("ERROR status=" + show(err && err.status) + " message=" +
        show(err && err.message));
});

bus.subscribe();

// The library's EventSource is bus.es; listen there for the types it would not register.
for (const t of eventTypes)
    if (bus.options.eventTypes.indexOf(t) < 0)
        bus.es.addEventListener(t, (e) => onEvent(e.type, JSON.parse(e.data)));
