/* Workloads for the overhead benchmark. Prints the elapsed seconds of the measured part.
 *   openwrite N DIR [RATE]
 *                     N x (open O_CREAT|O_TRUNC, write 64 bytes, close) on DIR (tmpfs); with
 *                     RATE, at most RATE iterations per second (paced every 1,000)
 *   forkexec N        N x (fork, exec /bin/true, wait)
 *   connect N PORT    N x (socket, connect to 127.0.0.1:PORT, close)
 *   sleepers N        N children that sleep until this process's stdin closes; prints the
 *                     seconds it took to fork them, then waits (children die with it)
 *   calls N           N calls of rein_bench_hook_target, for the uprobe floor (llm_overhead.py) */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Begins like OpenSSL 3.0's internal read and write functions, which rein hooks: with a push,
 * an instruction the kernel emulates after a uprobe's breakpoint instead of stepping it out of
 * line (a second trap). Written in assembly so that no compiler option changes that. */
__asm__(
    ".text\n"
    ".globl rein_bench_hook_target\n"
    ".type rein_bench_hook_target, @function\n"
    "rein_bench_hook_target:\n"
    "  push %rbp\n"
    "  mov %rsp, %rbp\n"
    "  lea 1(%rdi), %rax\n"
    "  pop %rbp\n"
    "  ret\n"
    ".size rein_bench_hook_target, .-rein_bench_hook_target\n");
long rein_bench_hook_target(long x);

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(
        stderr,
        "usage: %s openwrite N DIR [RATE] | forkexec N | connect N PORT | sleepers N | calls N\n",
        argv[0]);
    return 2;
  }
  long n = atol(argv[2]);
  double t0 = now();
  if (strcmp(argv[1], "openwrite") == 0 && argc >= 4) {
    char path[4096], buf[64];
    memset(buf, 'x', sizeof(buf));
    snprintf(path, sizeof(path), "%s/bench-%d.dat", argv[3], (int)getpid());
    double rate = argc >= 5 ? atof(argv[4]) : 0;
    for (long i = 0; i < n; i++) {
      if (rate > 0 && i % 1000 == 0) {
        double ahead = t0 + i / rate - now();
        if (ahead > 0) {
          struct timespec d = {(time_t)ahead, (long)((ahead - (time_t)ahead) * 1e9)};
          nanosleep(&d, NULL);
        }
      }
      int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
      if (fd < 0) return 1;
      if (write(fd, buf, sizeof(buf)) != sizeof(buf)) return 1;
      close(fd);
    }
    unlink(path);
  } else if (strcmp(argv[1], "connect") == 0 && argc >= 4) {
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((unsigned short)atoi(argv[3]))};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (long i = 0; i < n; i++) {
      int fd = socket(AF_INET, SOCK_STREAM, 0);
      if (fd < 0) return 1;
      if (connect(fd, (struct sockaddr*)&a, sizeof(a)) != 0) return 1;
      close(fd);
    }
  } else if (strcmp(argv[1], "calls") == 0) {
    long x = 0;
    for (long i = 0; i < n; i++) x = rein_bench_hook_target(x);
    if (x != n) return 1;
  } else if (strcmp(argv[1], "forkexec") == 0) {
    for (long i = 0; i < n; i++) {
      pid_t p = fork();
      if (p == 0) {
        execl("/bin/true", "true", (char*)NULL);
        _exit(127);
      }
      int st;
      waitpid(p, &st, 0);
    }
  } else if (strcmp(argv[1], "sleepers") == 0) {
    for (long i = 0; i < n; i++) {
      pid_t p = fork();
      if (p < 0) return 1;
      if (p == 0) {
        /* the child goes when the parent goes, however the parent ends */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() == 1) _exit(0);
        for (;;) pause();
      }
    }
    printf("%.6f\n", now() - t0);
    fflush(stdout);
    char c;
    while (read(0, &c, 1) > 0) {
    }
    signal(SIGTERM, SIG_IGN);
    kill(0, SIGTERM); /* own process group: the bench runs it with start_new_session */
    while (wait(NULL) > 0) {
    }
    return 0;
  } else {
    return 2;
  }
  printf("%.6f\n", now() - t0);
  return 0;
}
