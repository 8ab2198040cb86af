"use strict";
// Drives the unchanged npm package mesos-framework@0.5.3 against a Corral master:
// subscribe, get offers, launch one task, see it RUNNING (acknowledging updates),
// then tear the framework down. Prints one line per milestone; exits 0 on success.
const path = require("path");
const os = require("os");
const { Scheduler } = require("mesos-framework");
const Mesos = require("mesos-framework").Mesos.getMesos();

const port = parseInt(process.env.MASTER_PORT || "5050", 10);
const logDir = process.env.LOG_DIR || os.tmpdir();
const deadline = setTimeout(() => { console.log("TIMEOUT"); process.exit(1); }, 45000);

const scheduler = new Scheduler({
    masterUrl: "127.0.0.1",
    port: port,
    frameworkName: "npm-mesos-framework",
    user: "root",
    frameworkFailoverTimeout: 30,
    restartStates: [],
    logging: { path: logDir, fileName: "mesos-framework.log", level: "info" },
    tasks: {
        sleeper: {
            priority: 1,
            instances: 1,
            commandInfo: new Mesos.CommandInfo(null, null, true, "echo started; sleep 60", null, null),
            resources: { cpus: 0.1, mem: 32, ports: 1, disk: 0 }
        }
    }
});

let done = false;
scheduler.on("subscribed", (o) => console.log("SUBSCRIBED " + o.frameworkId));
scheduler.on("offers", () => console.log("OFFERS"));
scheduler.on("update", (update) => {
    const status = update && update.status ? update.status : update;
    console.log("UPDATE " + status.state);
    if (status.state === "TASK_RUNNING" && !done) {
        done = true;
        setTimeout(() => {
            scheduler.teardown();
            setTimeout(() => { clearTimeout(deadline); console.log("DONE"); process.exit(0); }, 500);
        }, 500);
    }
});
scheduler.on("error", (e) => console.log("ERROR " + (e && e.message ? e.message : JSON.stringify(e))));
scheduler.on("ready", () => scheduler.subscribe());
