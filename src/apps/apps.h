/*
 * apps.h - the built-in apps orchestrator, as the master sees it (see apps_impl.h for the
 * design). The master creates it at start-up, starts it once the registry is replayed and
 * this master leads, routes /v2/... and /ping to it, and frees it at shutdown.
 */
#ifndef CR_APPS_APPS_H
#define CR_APPS_APPS_H

#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"
#include "core/placement.h"

struct cr_master;
struct cr_http_req;
struct cr_apps;

struct cr_apps_config {
    int64_t port;                     /* the Marathon port (8080); 0 = only under /v2 on 5050 */
    enum cr_place_strategy placement; /* cluster default; an app's label overrides it */
    double health_kill_fraction;      /* kill budget: fraction of an app's instances ... */
    double health_kill_window_s;      /* ... killed for failing health checks per window */
    double backoff_reset_s;           /* healthy this long resets an app's launch backoff */
};

/* Create (not started). m and cfg borrowed; m must outlive it. Returns owned; NULL and err
 * filled when the apps port cannot be served. */
struct cr_apps *cr_apps_new(struct cr_master *m, const struct cr_apps_config *cfg,
                            struct cr_err *err);
/* The registry is ready and this master leads: recover apps and subscribe. */
void cr_apps_start(struct cr_apps *a);
/* Answer req if it is an apps endpoint (/v2/..., /ping); false = not ours. */
bool cr_apps_route(struct cr_apps *a, struct cr_http_req *req);
/* Close streams and the apps port (before the master's server goes). Accepts NULL. */
void cr_apps_stop(struct cr_apps *a);
void cr_apps_free(struct cr_apps *a);

#endif
