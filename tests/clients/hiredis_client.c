/* libhiredis, the C client, against the worker or the stash, driven by
 * tests/integration/real_clients_test.cpp. It speaks what a hiredis user
 * writes: redisConnectUnix, redisCommand, and pipelined redisAppendCommand
 * then redisGetReply; after the worker is killed, redisReconnect.
 *
 *   hiredis_client worker|stash SOCKET
 *
 * It prints one line per reply, "<context> <COMMAND> <reply>", where <reply>
 * is a bare number only for REDIS_REPLY_INTEGER ("7"); a string or status is
 * quoted, a nil is null, an error error(<message>), an array [a,b]. The
 * worker's script is common.js's (the node clients'): see there. hiredis 0.14
 * (Debian 12's) reads RESP2 only, so it never says HELLO 3.
 */
#include <errno.h>
#include <hiredis.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void print_reply(const redisReply *r) {
    size_t i;
    switch (r->type) {
    case REDIS_REPLY_INTEGER:
        printf("%lld", r->integer);
        break;
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
        printf("\"%s\"", r->str);
        break;
    case REDIS_REPLY_NIL:
        printf("null");
        break;
    case REDIS_REPLY_ERROR:
        printf("error(%s)", r->str);
        break;
    case REDIS_REPLY_ARRAY:
        printf("[");
        for (i = 0; i < r->elements; i++) {
            if (i) printf(",");
            print_reply(r->element[i]);
        }
        printf("]");
        break;
    default:
        printf("type(%d)", r->type);
    }
}

static void line(const char *context, const char *command, const redisReply *r) {
    printf("%s %s ", context, command);
    print_reply(r);
    printf("\n");
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A line from stdin (the test), without its newline; waits up to timeout_ms
 * (-1: for ever). Returns 0 on a line, -1 on end of input or timeout. */
static int read_line(char *buf, size_t size, int timeout_ms) {
    size_t n = 0;
    struct pollfd p;
    p.fd = 0;
    p.events = POLLIN;
    while (n + 1 < size) {
        char ch;
        ssize_t got;
        if (poll(&p, 1, timeout_ms) <= 0) return -1;
        got = read(0, &ch, 1);
        if (got <= 0) return -1;
        if (ch == '\n') break;
        buf[n++] = ch;
    }
    buf[n] = '\0';
    return 0;
}

/* The connection is broken (the worker was killed): reconnect as a hiredis
 * user does, retrying for up to 10 s while nothing listens yet. */
static int reconnect(redisContext *c) {
    double until = now() + 10;
    fprintf(stderr, "hiredis: %s; reconnecting\n", c->errstr);
    while (redisReconnect(c) != REDIS_OK) {
        if (now() > until) {
            fprintf(stderr, "hiredis: cannot reconnect: %s\n", c->errstr);
            return -1;
        }
        poll(NULL, 0, 5); /* a client's backoff between tries */
    }
    return 0;
}

/* redisCommand, once more on a new connection if the old one broke. */
static redisReply *command(redisContext *c, const char *format, ...) {
    int attempt;
    for (attempt = 0; attempt < 2; attempt++) {
        va_list ap;
        redisReply *r;
        va_start(ap, format);
        r = redisvCommand(c, format, ap);
        va_end(ap);
        if (r) return r;
        if (attempt == 0 && reconnect(c) != 0) break;
    }
    printf("fatal %s\n", c->errstr);
    exit(1);
}

static void plain(redisContext *c, const char *name, const char *format) {
    redisReply *r = command(c, format);
    line("plain", name, r);
    freeReplyObject(r);
}

/* Every command written at once, then every reply read. */
static void pipelined(redisContext *c, const char *context, const char **names, const char **formats, int n) {
    int i;
    for (i = 0; i < n; i++) redisAppendCommand(c, formats[i]);
    for (i = 0; i < n; i++) {
        void *reply = NULL;
        if (redisGetReply(c, &reply) != REDIS_OK) {
            printf("fatal %s\n", c->errstr);
            exit(1);
        }
        line(context, names[i], reply);
        freeReplyObject(reply);
    }
}

/* MULTI, the commands, EXEC written at once; the replies of the commands
 * are EXEC's array. */
static void transaction(redisContext *c, const char **names, const char **formats, int n) {
    int i;
    void *reply = NULL;
    redisReply *exec;
    redisAppendCommand(c, "MULTI");
    for (i = 0; i < n; i++) redisAppendCommand(c, formats[i]);
    redisAppendCommand(c, "EXEC");
    for (i = 0; i < n + 1; i++) { /* +OK, then +QUEUED each */
        if (redisGetReply(c, &reply) != REDIS_OK) {
            printf("fatal %s\n", c->errstr);
            exit(1);
        }
        freeReplyObject(reply);
    }
    if (redisGetReply(c, &reply) != REDIS_OK) {
        printf("fatal %s\n", c->errstr);
        exit(1);
    }
    exec = reply;
    if (exec->type != REDIS_REPLY_ARRAY || exec->elements != (size_t)n) {
        line("multi", "EXEC", exec);
    } else {
        for (i = 0; i < n; i++) line("multi", names[i], exec->element[i]);
    }
    freeReplyObject(exec);
}

static int worker(redisContext *c) {
    const char *pn[] = {"NEXT", "NEXT", "NEXT", "INCREMENT", "GET"};
    const char *pf[] = {"NEXT", "NEXT", "NEXT", "INCREMENT 5", "GET"};
    char buf[64];
    redisReply *r;
    double until;
    long errors = 0;

    /* 1: straight after connecting. */
    plain(c, "NEXT", "NEXT");
    plain(c, "NEXT", "NEXT");
    r = command(c, "INCREMENT %d", 5);
    line("plain", "INCREMENT", r);
    freeReplyObject(r);
    plain(c, "GET", "GET");
    pipelined(c, "pipeline", pn, pf, 5);
    transaction(c, pn + 2, pf + 2, 3);
    r = command(c, "CLIENT INFO"); /* the protocol the server thinks we speak */
    {
        const char *at = r->type == REDIS_REPLY_STRING ? strstr(r->str, " resp=") : NULL;
        if (at)
            printf("resp %c\n", at[6]);
        else
            line("resp", "CLIENT-INFO", r);
    }
    freeReplyObject(r);
    printf("ready\n");
    if (read_line(buf, sizeof buf, -1) != 0 || strcmp(buf, "go") != 0) return 0;

    /* 2: the worker was killed and another started; the same context. */
    plain(c, "NEXT", "NEXT");
    r = command(c, "INCREMENT %d", 5);
    line("plain", "INCREMENT", r);
    freeReplyObject(r);
    plain(c, "GET", "GET");
    pipelined(c, "pipeline", pn + 2, pf + 2, 3);
    printf("done\n");
    if (read_line(buf, sizeof buf, -1) != 0 || strcmp(buf, "loop") != 0) return 0;

    /* 3: NEXT after NEXT while the test kills the worker, until "stop". */
    until = now() + 30;
    for (;;) {
        if (read_line(buf, sizeof buf, 0) == 0) break;
        if (now() > until) {
            printf("gave up\n");
            return 1;
        }
        r = redisCommand(c, "NEXT");
        if (r) {
            printf("loop ");
            print_reply(r);
            printf("\n");
            freeReplyObject(r);
            continue;
        }
        printf("loop-error %s\n", c->errstr);
        if (++errors > 1000 || reconnect(c) != 0) return 1;
    }
    printf("stopped\n");
    return 0;
}

static int stash(redisContext *c) {
    const char *names[] = {"SET", "GET"};
    int i;
    redisReply *r;
    r = command(c, "SET %s %s", "greeting", "hello");
    line("plain", "SET", r);
    freeReplyObject(r);
    r = command(c, "GET %s", "greeting");
    line("plain", "GET", r);
    freeReplyObject(r);
    r = command(c, "GET %s", "no-such-key");
    line("plain", "GET-missing", r);
    freeReplyObject(r);
    redisAppendCommand(c, "SET %s %s", "greeting", "hello again");
    redisAppendCommand(c, "GET %s", "greeting");
    for (i = 0; i < 2; i++) {
        void *reply = NULL;
        if (redisGetReply(c, &reply) != REDIS_OK) {
            printf("fatal %s\n", c->errstr);
            return 1;
        }
        line("pipeline", names[i], reply);
        freeReplyObject(reply);
    }
    {
        const char *tf[] = {"SET greeting hello-multi", "GET greeting"};
        transaction(c, names, tf, 2);
    }
    printf("done\n");
    return 0;
}

int main(int argc, char **argv) {
    redisContext *c;
    int code;
    if (argc != 3 || (strcmp(argv[1], "worker") != 0 && strcmp(argv[1], "stash") != 0)) {
        fprintf(stderr, "usage: hiredis_client worker|stash SOCKET\n");
        return 2;
    }
    /* A write to a connection the worker's death closed must fail, not kill
     * us: every hiredis program ignores SIGPIPE. */
    signal(SIGPIPE, SIG_IGN);
    setvbuf(stdout, NULL, _IOLBF, 0);
    c = redisConnectUnix(argv[2]);
    if (!c || c->err) {
        printf("fatal cannot connect: %s\n", c ? c->errstr : "out of memory");
        return 1;
    }
    code = strcmp(argv[1], "worker") == 0 ? worker(c) : stash(c);
    redisFree(c);
    return code;
}
