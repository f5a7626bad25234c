/* bench-probe: the benchmark's stopwatch, in C so that it measures
 * microseconds and starts fast.
 *
 *   bench-probe touch SOCKET          connect to SOCKET, write one byte, exit
 *   bench-probe floor SOCKET N        N times: fork+exec "touch", until its
 *                                     byte arrives; prints each time in us
 *   bench-probe recover SOCKET PID    kill -9 PID, then NEXT on SOCKET until
 *                                     an integer comes back; prints the us
 *   bench-probe exit PID              kill -9 PID, then wait on a pidfd until
 *                                     it has exited; prints the us: the part
 *                                     of a recovery that is the kernel's alone
 *   bench-probe start PROGRAM ARGS... fork+exec PROGRAM ARGS --notify-fd N,
 *                                     until its newline on N; prints the us and
 *                                     its pid, then stays its parent until it
 *                                     exits, passing SIGTERM on
 *   bench-probe hello SOCKET          connect to SOCKET, then pause for good:
 *                                     a supervised child that says it started
 *   bench-probe restart SOCKET PID    kill -9 PID, then wait for the next
 *                                     "hello" on SOCKET; prints the us and the
 *                                     pid that connected
 *   bench-probe spawn N PROGRAM ARGS  posix_spawn N of PROGRAM ARGS, each
 *                                     exec'd before the next starts; prints
 *                                     the us, then kills them
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char** environ;

static double now_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static struct sockaddr_un address(const char* path) {
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    strncpy(a.sun_path, path, sizeof a.sun_path - 1);
    return a;
}

static int dial(const char* path) {
    struct sockaddr_un a = address(path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    if (connect(fd, (struct sockaddr*)&a, sizeof a) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int touch(const char* path) {
    int fd = dial(path);
    if (fd < 0) return 1;
    return write(fd, "x", 1) == 1 ? 0 : 1;
}

static int floor_time(const char* self, const char* path, int n) {
    struct sockaddr_un a = address(path);
    unlink(path);
    int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (lfd < 0 || bind(lfd, (struct sockaddr*)&a, sizeof a) < 0 || listen(lfd, 16) < 0) {
        perror("bench-probe floor: listen");
        return 1;
    }
    for (int i = 0; i < n; ++i) {
        double t0 = now_us();
        pid_t pid = fork();
        if (pid == 0) {
            execl(self, self, "touch", path, (char*)NULL);
            _exit(127);
        }
        int cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        char b;
        if (cfd < 0 || read(cfd, &b, 1) != 1) {
            perror("bench-probe floor: accept");
            return 1;
        }
        double t1 = now_us();
        close(cfd);
        waitpid(pid, NULL, 0);
        printf("%.0f\n", t1 - t0);
    }
    unlink(path);
    return 0;
}

static int recover(const char* path, pid_t victim) {
    static const char next[] = "NEXT\r\n";
    double t0 = now_us();
    if (kill(victim, SIGKILL) < 0) {
        perror("bench-probe recover: kill");
        return 1;
    }
    for (;;) {
        int fd = dial(path);
        if (fd < 0) continue;
        char buf[64];
        ssize_t n = -1;
        if (write(fd, next, sizeof next - 1) == (ssize_t)(sizeof next - 1)) n = read(fd, buf, sizeof buf);
        close(fd);
        if (n > 0 && buf[0] == ':') break;
        if (now_us() - t0 > 10e6) {
            fprintf(stderr, "bench-probe recover: no NEXT served within 10 s\n");
            return 1;
        }
    }
    printf("%.0f\n", now_us() - t0);
    return 0;
}

static int exit_time(pid_t victim) {
    /* A pidfd is readable once the process has exited: its files closed and
     * its parent sent SIGCHLD, the moment a supervisor can first know. */
    int pfd = (int)syscall(SYS_pidfd_open, victim, 0);
    if (pfd < 0) {
        perror("bench-probe exit: pidfd_open");
        return 1;
    }
    double t0 = now_us();
    if (kill(victim, SIGKILL) < 0) {
        perror("bench-probe exit: kill");
        return 1;
    }
    struct pollfd p = {.fd = pfd, .events = POLLIN};
    if (poll(&p, 1, 10000) != 1) {
        fprintf(stderr, "bench-probe exit: pid %d did not exit within 10 s\n", (int)victim);
        return 1;
    }
    printf("%.0f\n", now_us() - t0);
    close(pfd);
    return 0;
}

static pid_t started;

static void pass_on(int sig) {
    if (started > 0) kill(started, sig);
}

static int start(char** argv, int argc) {
    /* The write end of the pipe is the one fd the program inherits from us;
     * its arguments are built before the clock starts. */
    int p[2];
    if (pipe2(p, 0) < 0 || fcntl(p[0], F_SETFD, FD_CLOEXEC) < 0) {
        perror("bench-probe start: pipe");
        return 1;
    }
    char fd[16];
    snprintf(fd, sizeof fd, "%d", p[1]);
    char** args = calloc(argc + 3, sizeof *args);
    memcpy(args, argv, argc * sizeof *args);
    args[argc] = "--notify-fd";
    args[argc + 1] = fd;
    double t0 = now_us();
    pid_t pid = fork();
    if (pid == 0) {
        dup2(2, 1); /* our stdout is for the figure alone, read once */
        execv(args[0], args);
        perror("bench-probe start: exec");
        _exit(127);
    }
    if (pid < 0) {
        perror("bench-probe start: fork");
        return 1;
    }
    started = pid;
    struct sigaction sa = {.sa_handler = pass_on};
    sigaction(SIGTERM, &sa, NULL);
    close(p[1]);
    struct pollfd w = {.fd = p[0], .events = POLLIN};
    /* A deadline against a hang only: a slow start is a figure, not a failure. */
    int ready;
    while ((ready = poll(&w, 1, 300000)) < 0 && errno == EINTR) {
    }
    char b = 0;
    if (ready == 1 && read(p[0], &b, 1) == 1 && b == '\n') {
        printf("%.0f %d\n", now_us() - t0, (int)pid);
        fflush(stdout);
    } else {
        kill(pid, SIGTERM);
    }
    close(p[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return 1;
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (b == '\n') return code;
    /* Said last, after its own last words, for whoever reads the log's tail. */
    fprintf(stderr, "bench-probe start: no newline from %s on --notify-fd (%s); it exited %d\n", args[0],
            ready == 0 ? "none in 300 s" : "it closed the fd", code);
    return 1;
}

_Noreturn static void hello(const char* path) {
    /* No byte written: the connection is the message, and its credentials
     * name our pid, which is the supervisor's child's (it exec'd us). */
    dial(path);
    for (;;) pause();
}

static int restart(const char* path, pid_t victim) {
    struct sockaddr_un a = address(path);
    unlink(path);
    int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (lfd < 0 || bind(lfd, (struct sockaddr*)&a, sizeof a) < 0 || listen(lfd, 16) < 0) {
        perror("bench-probe restart: listen");
        return 1;
    }
    double t0 = now_us();
    if (kill(victim, SIGKILL) < 0) {
        perror("bench-probe restart: kill");
        return 1;
    }
    struct pollfd p = {.fd = lfd, .events = POLLIN};
    int cfd = -1;
    if (poll(&p, 1, 10000) == 1) cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    double t1 = now_us();
    struct ucred peer;
    socklen_t len = sizeof peer;
    if (cfd < 0 || getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &peer, &len) < 0) {
        fprintf(stderr, "bench-probe restart: no hello on %s within 10 s of kill -9 %d\n", path, (int)victim);
        return 1;
    }
    printf("%.0f %d\n", t1 - t0, (int)peer.pid);
    close(cfd);
    close(lfd);
    unlink(path);
    return 0;
}

static int spawn(int n, char** argv) {
    /* glibc's posix_spawn: a child that shares our memory until its exec,
     * and returns once the exec went through (or says why not): the fastest
     * way a C program starts a process, and the way a supervisor counts a
     * child as running. */
    pid_t* pids = calloc(n, sizeof *pids);
    double t0 = now_us();
    for (int i = 0; i < n; ++i) {
        int err = posix_spawn(&pids[i], argv[0], NULL, NULL, argv, environ);
        if (err != 0) {
            fprintf(stderr, "bench-probe spawn: %s: %s\n", argv[0], strerror(err));
            return 1;
        }
    }
    double t1 = now_us();
    for (int i = 0; i < n; ++i) kill(pids[i], SIGKILL);
    for (int i = 0; i < n; ++i) waitpid(pids[i], NULL, 0);
    printf("%.0f\n", t1 - t0);
    return 0;
}

int main(int argc, char** argv) {
    if (argc == 3 && strcmp(argv[1], "touch") == 0) return touch(argv[2]);
    if (argc == 4 && strcmp(argv[1], "floor") == 0) return floor_time(argv[0], argv[2], atoi(argv[3]));
    if (argc == 4 && strcmp(argv[1], "recover") == 0) return recover(argv[2], (pid_t)atoi(argv[3]));
    if (argc == 3 && strcmp(argv[1], "exit") == 0) return exit_time((pid_t)atoi(argv[2]));
    if (argc >= 3 && strcmp(argv[1], "start") == 0) return start(argv + 2, argc - 2);
    if (argc == 3 && strcmp(argv[1], "hello") == 0) hello(argv[2]);
    if (argc == 4 && strcmp(argv[1], "restart") == 0) return restart(argv[2], (pid_t)atoi(argv[3]));
    if (argc >= 4 && strcmp(argv[1], "spawn") == 0) return spawn(atoi(argv[2]), argv + 3);
    fprintf(stderr,
            "usage: bench-probe touch SOCKET | floor SOCKET N | recover SOCKET PID | exit PID\n"
            "       | start PROGRAM ARGS... | hello SOCKET | restart SOCKET PID | spawn N PROGRAM ARGS...\n");
    return 2;
}
