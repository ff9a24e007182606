/* For test_policy.py: a process that shares its memory with a child (clone(CLONE_VM) without
 * CLONE_THREAD: a process, not a thread), then opens a protected file for writing. A deny
 * kills the opener; the child, which could read or write the memory the denied call filled,
 * must not outlive it. The child waits (bounded) for its parent to be gone, then creates
 * MARKER. Before it, eight short-lived sharers come and go: the sensor keeps eight per
 * address space, and the ones gone must not leave the one that matters out.
 *   vm_sharer PROTECTED MARKER   prints the child's pid, then opens PROTECTED
 * Raw syscalls in the child: it runs on its own stack in the parent's memory, beside the
 * parent's libc state. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char* marker;
static long parent;
static char child_stack[64 * 1024] __attribute__((aligned(16)));

static int child(void* unused) {
  (void)unused;
  struct timespec pause = {0, 10 * 1000 * 1000};
  for (int i = 0; i < 1000; i++) { /* 10 s at most */
    if (syscall(SYS_getppid) != parent) {
      long fd = syscall(SYS_openat, AT_FDCWD, marker, O_WRONLY | O_CREAT, 0600);
      if (fd >= 0) syscall(SYS_close, fd);
      return 0;
    }
    syscall(SYS_nanosleep, &pause, NULL);
  }
  return 3;
}

static int quick(void* unused) {
  (void)unused;
  return 0;
}

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s PROTECTED MARKER\n", argv[0]);
    return 2;
  }
  marker = argv[2];
  parent = getpid();
  for (int i = 0; i < 8; i++) {
    int gone = clone(quick, child_stack + sizeof(child_stack), CLONE_VM | SIGCHLD, NULL);
    if (gone < 0 || waitpid(gone, NULL, 0) != gone) {
      perror("clone");
      return 2;
    }
  }
  int pid = clone(child, child_stack + sizeof(child_stack), CLONE_VM | SIGCHLD, NULL);
  if (pid < 0) {
    perror("clone");
    return 2;
  }
  printf("%d\n", pid);
  fflush(stdout);
  int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd >= 0) close(fd);
  printf("survived\n");
  fflush(stdout);
  waitpid(pid, NULL, 0);
  return 0;
}
