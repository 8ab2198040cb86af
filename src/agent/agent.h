/*
 * agent.h - the agent daemon (corral agent): its entry point, and the same agent as a
 * library object so tests can run agents (and masters) inside one process.
 *
 * An agent detects its machine's resources, serves its HTTP endpoints (/state, /health,
 * /files/...), subscribes to the leading master over the agent protocol
 * (docs/protocol.md), launches command tasks in per-task sandboxes through the
 * containerizer, and reports their status reliably until acknowledged.
 */
#ifndef CR_AGENT_AGENT_H
#define CR_AGENT_AGENT_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "base/err.h"

/* The agent's settings; also the target of its flag table (strings owned). */
struct cr_agent_options {
    char *master;        /* "host:port[,host:port...]", required */
    char *ip;            /* bind and advertise, default 127.0.0.1 */
    int64_t port;        /* HTTP port, default 5051; 0 = any free port */
    char *hostname;      /* advertised, default: the machine's */
    char *work_dir;      /* default /var/lib/corral/agent */
    char *resources;     /* Mesos text form, overrides detection per resource; may be NULL */
    char *attributes;    /* "rack:r1;zone:a"; may be NULL */
    char *log_level;     /* debug|info|warn|error */
    char *isolation;     /* comma-separated isolators, or "auto" (the default: every isolator
                            this machine supports) */
    char *executor_path; /* corral-executor; default: next to this binary */
    int64_t executor_reregister_ms; /* a live executor must re-subscribe within this */
    int64_t executor_recovery_ms;   /* executors give up on a missing agent after this */
    char *cgroups_mount;            /* "/sys/fs/cgroup" */
    char *cgroups_root;             /* parent cgroup of containers; default per work dir */
    bool cgroups_enable_cfs;        /* hard cpu limit (CFS quota) for every task */
    bool cgroups_favor_dynmods;     /* cheap cgroup moves while running (v1) */
    int64_t pids_limit;             /* pids.max per container, 0 = unlimited */
    bool seccomp;                   /* default seccomp filter for tasks */
    int64_t log_max_size;           /* cap of a task's stdout/stderr before rotation */
    int64_t gc_delay_ms;            /* keep finished sandboxes at most this long */
    double gc_disk_headroom;        /* 0..1: share of the disk that GC keeps free */
    char *config;                   /* the --config file the flags came from (informational) */
};

struct cr_agent;

/* Run an agent with argv (argv[0] = "agent"). Returns the process exit code. */
int cr_agent_main(int argc, char **argv);

/*
 * Start an agent on loop: create the work dir, detect resources, listen, and begin
 * subscribing to the master. opts is copied (log_level is ignored: the process owns
 * the log level). On success *out is owned (free with cr_agent_free). Returns 0 or a
 * negative errno with err ("listen on 127.0.0.1:5051: Address already in use").
 */
int cr_agent_new(uv_loop_t *loop, const struct cr_agent_options *opts, struct cr_agent **out,
                 struct cr_err *err);

/* The HTTP port actually bound. */
uint16_t cr_agent_port(const struct cr_agent *a);

/* The agent id (borrowed), or NULL before the first registration. */
const char *cr_agent_id(const struct cr_agent *a);

/*
 * Stop: disconnect from the master, stop serving, release the tasks' containers WITHOUT
 * killing them (agent restarts never kill work; re-adopting them after a restart comes
 * with checkpointing), free everything. Handles close asynchronously: run the loop until
 * idle afterwards (cr_loop_close_all). Accepts NULL.
 */
void cr_agent_free(struct cr_agent *a);

#endif
