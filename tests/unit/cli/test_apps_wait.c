/*
 * test_apps_wait.c - the network half of the app verbs (src/cli/apps_wait.c) against a
 * small fake Marathon master on 127.0.0.1 (a thread per connection): requests keep the
 * Marathon-Deployment-Id header and error bodies; a wait opens /v2/events (with exactly
 * "Accept: text/event-stream") before the change is made, follows only its deployment's
 * events, and falls back to polling /v2/deployments/<id> when the stream is refused or
 * drops.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli/apps_common.h"
#include "cli/cli_common.h"

enum stream_mode { STREAM_OK, STREAM_REFUSED, STREAM_DROPS };

/* The fake master's script and what it saw. Guarded by mu. */
static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int listen_fd;
    int port;
    enum stream_mode mode;
    int sse_fd;             /* the open event stream, or -1 */
    bool had_stream_first;  /* the change came while a stream was open */
    bool accept_ok;         /* the stream request had the exact Accept header */
    bool is_changed;        /* the change request arrived */
    int polls;              /* GET /v2/deployments/d-hdr answered */
    const char *poll_final; /* status answered from the 2nd poll on */
    char last_body[512];
    bool is_stopping;
} fake = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER, .sse_fd = -1};

static void write_all(int fd, const char *s, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, s, len);
        if (n <= 0)
            return;
        s += n;
        len -= (size_t)n;
    }
}

static void respond(int fd, int status, const char *extra_headers, const char *body)
{
    char head[512];
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n%s\r\n",
                     status, strlen(body), extra_headers ? extra_headers : "");
    write_all(fd, head, (size_t)n);
    write_all(fd, body, strlen(body));
}

/* Send the events of the change on the open stream, in awkward pieces. */
static void send_events(int fd)
{
    static const char *const pieces[] = {
        "event: deployment_success\r\ndata: {\"id\":\"other\"}\r\n\r\n",
        "\r\nevent: deployment_info\r\ndata: {\"plan\":{\"id\":\"d-hdr\",\"steps\":[{\"actions\":"
        "[{\"action\":\"ScaleApplication\",\"app\":\"/web\"}]}]},",
        "\"currentStep\":{\"actions\":[{\"action\":\"ScaleApplication\",\"app\":\"/web\"}]}}\r",
        "\n\r\nevent: status_update_event\r\ndata: {\"appId\":\"/web\",\"taskId\":\"web.ab12-x\","
        "\"taskStatus\":\"TASK_RUNNING\",\"host\":\"h1\",\"ports\":[31000]}\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++) {
        write_all(fd, pieces[i], strlen(pieces[i]));
        usleep(20000);
    }
    if (fake.mode == STREAM_OK) {
        const char *end = "event: deployment_success\r\ndata: {\"id\":\"d-hdr\"}\r\n\r\n";
        write_all(fd, end, strlen(end));
    }
}

static void *serve(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char req[8192];
    size_t len = 0;
    char *end = NULL;
    while (len < sizeof(req) - 1) {
        ssize_t n = read(fd, req + len, sizeof(req) - 1 - len);
        if (n <= 0)
            break;
        len += (size_t)n;
        req[len] = '\0';
        if ((end = strstr(req, "\r\n\r\n")))
            break;
    }
    if (!end) {
        close(fd);
        return NULL;
    }
    char method[16] = "", path[1024] = "";
    sscanf(req, "%15s %1023s", method, path);
    const char *cl = strcasestr(req, "Content-Length:");
    size_t body_len = cl ? strtoul(cl + 15, NULL, 10) : 0;
    char *body = end + 4;
    while ((size_t)(req + len - body) < body_len && len < sizeof(req) - 1) {
        ssize_t n = read(fd, req + len, sizeof(req) - 1 - len);
        if (n <= 0)
            break;
        len += (size_t)n;
        req[len] = '\0';
    }

    pthread_mutex_lock(&fake.mu);
    if (strncmp(path, "/v2/events?", 11) == 0) {
        fake.accept_ok = strstr(req, "\r\nAccept: text/event-stream\r\n") != NULL &&
                         strstr(path, "event_type=deployment_success") != NULL;
        if (fake.mode == STREAM_REFUSED) {
            pthread_mutex_unlock(&fake.mu);
            respond(fd, 404, NULL, "{\"message\":\"no events here\"}");
            close(fd);
            return NULL;
        }
        const char *head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                           "Connection: close\r\n\r\n\r\n";
        write_all(fd, head, strlen(head));
        fake.sse_fd = fd;
        pthread_cond_broadcast(&fake.cv);
        while (!fake.is_changed && !fake.is_stopping)
            pthread_cond_wait(&fake.cv, &fake.mu);
        pthread_mutex_unlock(&fake.mu);
        if (!fake.is_stopping)
            send_events(fd);
        pthread_mutex_lock(&fake.mu);
        if (fake.mode == STREAM_OK)
            while (!fake.is_stopping)
                pthread_cond_wait(&fake.cv, &fake.mu); /* keep it open like a real master */
        fake.sse_fd = -1;
        pthread_mutex_unlock(&fake.mu);
        close(fd);
        return NULL;
    }
    if (strcmp(method, "PUT") == 0 && strcmp(path, "/v2/apps/web") == 0) {
        fake.had_stream_first = fake.sse_fd >= 0 || fake.mode == STREAM_REFUSED;
        snprintf(fake.last_body, sizeof(fake.last_body), "%.*s", (int)body_len, body);
        fake.is_changed = true;
        pthread_cond_broadcast(&fake.cv);
        pthread_mutex_unlock(&fake.mu);
        respond(fd, 200, "Marathon-Deployment-Id: d-hdr\r\n",
                "{\"version\":\"v2\",\"deploymentId\":\"d-body\"}");
    } else if (strcmp(method, "PUT") == 0 && strcmp(path, "/v2/apps/bad") == 0) {
        pthread_mutex_unlock(&fake.mu);
        respond(fd, 422, NULL,
                "{\"message\":\"Object is not valid\",\"details\":[{\"path\":\"/instances\","
                "\"errors\":[\"must be >= 0\"]}]}");
    } else if (strcmp(path, "/v2/deployments/d-hdr") == 0) {
        int n = ++fake.polls;
        const char *status = n >= 2 && fake.poll_final ? fake.poll_final : "running";
        pthread_mutex_unlock(&fake.mu);
        char doc[512];
        snprintf(doc, sizeof(doc),
                 "{\"id\":\"d-hdr\",\"status\":\"%s\",\"reason\":\"instances never became "
                 "healthy\",\"currentStep\":1,\"totalSteps\":1,\"steps\":[{\"actions\":[{"
                 "\"action\":\"ScaleApplication\",\"app\":\"/web\"}]}]}",
                 status);
        respond(fd, 200, NULL, doc);
    } else {
        pthread_mutex_unlock(&fake.mu);
        respond(fd, 404, NULL, "{\"message\":\"no route\"}");
    }
    close(fd);
    return NULL;
}

static void *accept_loop(void *arg)
{
    (void)arg;
    for (;;) {
        int fd = accept(fake.listen_fd, NULL, NULL);
        if (fd < 0)
            return NULL; /* closed by teardown */
        pthread_t t;
        pthread_create(&t, NULL, serve, (void *)(intptr_t)fd);
        pthread_detach(t);
    }
}

static pthread_t acceptor;

static void fake_start(enum stream_mode mode, const char *poll_final)
{
    fake.mode = mode;
    fake.sse_fd = -1;
    fake.had_stream_first = fake.accept_ok = fake.is_changed = fake.is_stopping = false;
    fake.polls = 0;
    fake.poll_final = poll_final;
    fake.last_body[0] = '\0';
    fake.listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fake.listen_fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fake.listen_fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(fake.listen_fd, 16), 0);
    socklen_t alen = sizeof(a);
    getsockname(fake.listen_fd, (struct sockaddr *)&a, &alen);
    fake.port = ntohs(a.sin_port);
    pthread_create(&acceptor, NULL, accept_loop, NULL);
}

static void fake_stop(void)
{
    pthread_mutex_lock(&fake.mu);
    fake.is_stopping = true;
    pthread_cond_broadcast(&fake.cv);
    pthread_mutex_unlock(&fake.mu);
    shutdown(fake.listen_fd, SHUT_RDWR);
    close(fake.listen_fd);
    pthread_join(acceptor, NULL);
    usleep(50000); /* let the connection threads see is_stopping and finish */
}

static char master[64];

/* Open a watch, make the change, wait; returns the exit code and the text printed. */
static int change_and_wait(char **text)
{
    snprintf(master, sizeof(master), "127.0.0.1:%d", fake.port);
    struct cr_apps_watch *w = cr_apps_watch_open("test", master);
    struct cr_apps_reply r;
    struct cr_err err = {0};
    assert_int_equal(cr_apps_request(master, "PUT", "/v2/apps/web", "{\"instances\": 2}", &r, &err),
                     0);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.deployment_id, "d-hdr"); /* the header wins over the body */
    size_t len = 0;
    FILE *out = open_memstream(text, &len);
    const char *const apps[] = {"/web", NULL};
    int code = cr_apps_watch_wait(w, r.deployment_id, apps, out);
    fclose(out);
    cr_apps_reply_release(&r);
    cr_apps_watch_free(w);
    return code;
}

static void test_stream(void **state)
{
    (void)state;
    fake_start(STREAM_OK, NULL);
    char *text = NULL;
    int code = change_and_wait(&text);
    fake_stop();
    assert_int_equal(code, CR_CLI_EXIT_OK);
    assert_true(fake.accept_ok);
    assert_true(fake.had_stream_first);
    assert_string_equal(fake.last_body, "{\"instances\": 2}");
    assert_string_equal(text, "step: ScaleApplication /web\n"
                              "  web.ab12 RUNNING on h1:31000\n"
                              "deployment d-hdr succeeded\n");
    free(text);
}

static void test_stream_refused_polls(void **state)
{
    (void)state;
    fake_start(STREAM_REFUSED, "failed");
    char *text = NULL;
    int code = change_and_wait(&text);
    fake_stop();
    assert_int_equal(code, CR_CLI_EXIT_FAIL);
    assert_true(fake.polls >= 2);
    assert_string_equal(text, "step 1/1: ScaleApplication /web\n");
    free(text);
}

static void test_stream_drops_polls(void **state)
{
    (void)state;
    fake_start(STREAM_DROPS, "succeeded");
    char *text = NULL;
    int code = change_and_wait(&text);
    fake_stop();
    assert_int_equal(code, CR_CLI_EXIT_OK);
    assert_true(fake.polls >= 2);
    assert_non_null(strstr(text, "step: ScaleApplication /web\n  web.ab12 RUNNING on h1:31000\n"));
    assert_non_null(strstr(text, "deployment d-hdr succeeded\n"));
    free(text);
}

static void test_request_errors(void **state)
{
    (void)state;
    fake_start(STREAM_OK, NULL);
    snprintf(master, sizeof(master), "127.0.0.1:%d", fake.port);
    struct cr_apps_reply r;
    struct cr_err err = {0};
    assert_int_equal(cr_apps_request(master, "PUT", "/v2/apps/bad", "{}", &r, &err), 0);
    assert_int_equal(r.status, 422);
    assert_null(r.deployment_id);
    assert_string_equal(cr_cli_json_str(r.json, "message"), "Object is not valid");
    cr_apps_reply_release(&r);
    /* cr_apps_change reports it and fails */
    assert_int_equal(cr_apps_change("test", master, "PUT", "/v2/apps/bad", "{}", NULL, false),
                     CR_CLI_EXIT_FAIL);
    fake_stop();

    /* Nobody listening there any more. */
    assert_true(cr_apps_request(master, "GET", "/v2/apps", NULL, &r, &err) < 0);
    assert_non_null(strstr(err.msg, "cannot reach the master at 127.0.0.1:"));
    cr_apps_reply_release(&r);

    char *path = cr_apps_path("/grp/we b", "/tasks");
    assert_string_equal(path, "/v2/apps/grp/we%20b/tasks");
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stream),
        cmocka_unit_test(test_stream_refused_polls),
        cmocka_unit_test(test_stream_drops_polls),
        cmocka_unit_test(test_request_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
